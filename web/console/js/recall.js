// Recall investigation: from any origin, FORWARD or BACKWARD, the lineage as an interactive
// graph beside the recall scope, exports (SVG, PNG, CSV), and initiateRecall where the role may.

import { gql } from "./api.js";
import { columns, drawGraph } from "./graph.js";
import { bi, csv, download, errorBox, h, put, say, table, when } from "./dom.js";

export const KINDS = [
  ["DONOR", "Donor", "提供者", "#6f42c1"],
  ["DONATION", "Donation", "捐贈", "#8250df"],
  ["MATERIAL_LOT", "Material lot", "原物料批", "#0969da"],
  ["SITE", "Site", "場所", "#57606a"],
  ["BATCH", "Batch", "批次", "#1a7f37"],
  ["SHIPMENT", "Shipment", "運送", "#9a6700"],
  ["PATIENT", "Patient", "病患", "#bc4c00"],
  ["ADVERSE_EVENT", "Adverse event", "不良反應", "#b42318"],
];
const COLOUR = Object.fromEntries(KINDS.map(([k, , , c]) => [k, c]));
const LABEL = Object.fromEntries(KINDS.map(([k, en, zh]) => [k, `${en} · ${zh}`]));
const ORDER = ["DONOR", "DONATION", "MATERIAL_LOT", "BATCH", "SHIPMENT", "SITE", "PATIENT", "ADVERSE_EVENT"];

export const TRACE = `query ConsoleTrace($origin: TraceOrigin!, $direction: TraceDirection!, $asOf: DateTime) {
  recallTrace(origin: $origin, direction: $direction, asOf: $asOf) {
    origin { kind id } direction position
    nodes { kind id }
    edges { fromKind fromId toKind toId relation at }
    affectedBatches affectedPatients affectedSites
  }
}`;

const INITIATE = `mutation ConsoleInitiateRecall($input: InitiateRecallInput!, $commandId: String) {
  initiateRecall(input: $input, commandId: $commandId) { id reason initiatedAt initiatedBy trace { position nodes { kind id } } }
}`;

export async function recallPage(main, _id, params, session) {
  const kind = params.get("kind") || "MATERIAL_LOT";
  const origin = params.get("id") || "";
  const direction = params.get("direction") || "FORWARD";
  const from = params.get("from") || "";
  const to = params.get("to") || "";
  const kindSelect = h("select", { id: "origin-kind", name: "kind" }, KINDS.map(([k, en, zh]) => h("option", { value: k, selected: k === kind }, `${en} · ${zh}`)));
  const idInput = h("input", { id: "origin-id", name: "id", value: origin, required: true, size: "22" });
  const dirSelect = h("select", { id: "direction", name: "direction" }, ["FORWARD", "BACKWARD", "BOTH"].map((d) => h("option", { value: d, selected: d === direction }, { FORWARD: "Forward · 向後追蹤", BACKWARD: "Backward · 向前溯源", BOTH: "Both · 雙向" }[d])));
  const fromInput = h("input", { id: "window-from", name: "from", value: from, size: "22", placeholder: "2025-12-01T00:00:00Z" });
  const toInput = h("input", { id: "window-to", name: "to", value: to, size: "22", placeholder: "2025-12-31T23:59:00Z" });
  const result = h("div", { id: "trace-result" });
  put(main,
    h("h1", {}, bi("Recall investigation", "回收調查")),
    h("form", {
        class: "row",
        onsubmit: (event) => {
          event.preventDefault();
          const q = new URLSearchParams({ kind: kindSelect.value, id: idInput.value.trim(), direction: dirSelect.value });
          if (fromInput.value.trim()) q.set("from", fromInput.value.trim());
          if (toInput.value.trim()) q.set("to", toInput.value.trim());
          location.hash = `#/recall?${q}`;
        },
      },
      h("label", { for: "origin-kind" }, bi("Origin kind", "起點類型"), kindSelect),
      h("label", { for: "origin-id" }, bi("Origin id", "起點編號"), idInput),
      h("label", { for: "direction" }, bi("Direction", "方向"), dirSelect),
      h("label", { for: "window-from" }, bi("Window from (site origin)", "期間起"), fromInput),
      h("label", { for: "window-to" }, bi("Window to", "期間迄"), toInput),
      h("button", { type: "submit" }, "Trace · 追溯"),
    ),
    h("p", { class: "muted" }, "The demo recall: material lot LV-CD19-25A01, forward. · 示範回收：原物料批 LV-CD19-25A01。 ",
      h("a", { href: "#/recall?kind=MATERIAL_LOT&id=LV-CD19-25A01&direction=FORWARD" }, "Open it · 開啟")),
    result,
  );
  if (!origin) return;
  const traceOrigin = { kind, id: origin };
  if (from && to) traceOrigin.window = { from, to };
  let trace;
  try {
    trace = (await gql(TRACE, { origin: traceOrigin, direction })).recallTrace;
  } catch (error) {
    put(result, errorBox(error));
    return;
  }
  renderTrace(result, trace, traceOrigin, session);
}

function renderTrace(result, trace, traceOrigin, session) {
  const nodes = columns(
    trace.nodes.map((n) => ({
      key: `${n.kind}:${n.id}`,
      id: n.id,
      kind: n.kind,
      kindLabel: LABEL[n.kind],
      label: n.id,
      sub: LABEL[n.kind],
      color: COLOUR[n.kind],
      strong: n.kind === trace.origin.kind && n.id === trace.origin.id,
    })),
    ORDER,
  );
  const edges = trace.edges.map((e) => ({ from: `${e.fromKind}:${e.fromId}`, to: `${e.toKind}:${e.toId}`, label: `${e.relation} (${when(e.at)})` }));
  const detail = h("div", { id: "node-detail", "aria-live": "polite" }, h("p", { class: "muted" }, "Select a node to see it. · 點選節點以檢視。"));
  const graph = drawGraph({
    nodes,
    edges,
    label: `Lineage of ${trace.origin.kind} ${trace.origin.id}, ${trace.direction} · 追溯圖`,
    onSelect: (node) => put(detail, nodeDetail(node, trace)),
  });
  const present = new Set(trace.nodes.map((n) => n.kind));
  const shown = new Set(present);
  const counter = h("span", { id: "graph-count", "aria-live": "polite" });
  const count = () => {
    counter.textContent = `${graph.visibleCount()} of ${trace.nodes.length} nodes shown · 顯示節點數`;
    counter.dataset.count = String(graph.visibleCount());
  };
  const filters = h("fieldset", { class: "row" },
    h("legend", {}, bi("Show kinds", "顯示類型")),
    KINDS.filter(([k]) => present.has(k)).map(([k, en, zh]) => {
      const box = h("input", { type: "checkbox", id: `show-${k}`, checked: true, onchange: () => { if (box.checked) shown.add(k); else shown.delete(k); graph.show(shown); count(); } });
      return h("label", { class: "inline", for: `show-${k}` }, box, `${en} · ${zh}`);
    }),
  );
  graph.show(shown);
  count();
  const name = `lineage-${trace.origin.kind}-${trace.origin.id}-${trace.direction}`.toLowerCase();
  const exports = h("div", { class: "row", role: "group", "aria-label": "Export · 匯出" },
    h("button", { type: "button", class: "secondary", id: "export-svg", onclick: () => graph.exportSvg(`${name}.svg`) }, "Picture as SVG · 匯出 SVG"),
    h("button", { type: "button", class: "secondary", id: "export-png", onclick: () => graph.exportPng(`${name}.png`).catch((e) => say(e.message)) }, "Picture as PNG · 匯出 PNG"),
    h("button", { type: "button", class: "secondary", id: "export-csv", onclick: () => download(`${name}-scope.csv`, scopeCsv(trace)) }, "Scope as CSV · 匯出 CSV"),
  );
  const may = session.me?.mutations?.includes("initiateRecall");
  put(result,
    h("p", { "data-testid": "trace-summary" },
      `${trace.nodes.length} nodes, ${trace.edges.length} links, at ledger position ${trace.position} · `,
      `${trace.affectedBatches.length} batches, ${trace.affectedPatients.length} patients, ${trace.affectedSites.length} sites affected`),
    h("div", { class: "split" },
      h("div", {}, filters, h("div", { class: "row" }, graph.controls, counter), graph.svg, exports),
      h("aside", { class: "side", "aria-label": "Recall scope · 回收範圍" },
        detail,
        h("h2", {}, bi("Recall scope", "回收範圍")),
        scopeList("Batches", "批次", trace.affectedBatches, (id) => `#/batch/${encodeURIComponent(id)}`),
        scopeList("Patients", "病患", trace.affectedPatients),
        scopeList("Sites", "場所", trace.affectedSites, (id) => `#/site/${encodeURIComponent(id)}`),
        may ? initiateForm(traceOrigin) : h("p", { class: "muted" }, "Your role may not initiate a recall. · 您的角色無法發起回收。"),
      ),
    ),
  );
}

function scopeList(en, zh, ids, link) {
  return h("section", {}, h("h3", {}, bi(`${en} (${ids.length})`, zh)),
    ids.length ? h("ul", {}, ids.map((id) => h("li", {}, link ? h("a", { href: link(id) }, id) : id))) : h("p", { class: "muted" }, "none · 無"));
}

function nodeDetail(node, trace) {
  const key = node.key;
  const touching = trace.edges.filter((e) => `${e.fromKind}:${e.fromId}` === key || `${e.toKind}:${e.toId}` === key);
  const open = { BATCH: `#/batch/${encodeURIComponent(node.id)}`, SITE: `#/site/${encodeURIComponent(node.id)}` }[node.kind];
  const audit = { BATCH: "Batch", SHIPMENT: "Shipment", MATERIAL_LOT: "MaterialLot", DONATION: "Donation", ADVERSE_EVENT: "AdverseEvent", SITE: "Site" }[node.kind];
  return h("section", { class: "card" },
    h("h2", {}, `${LABEL[node.kind]}: ${node.id}`),
    h("p", {},
      open ? h("a", { href: open }, "Open · 開啟") : null, open ? " · " : null,
      audit ? h("a", { href: `#/audit?aggregate=${encodeURIComponent(`${audit}:${node.id}`)}` }, "Ledger events · 帳本事件") : null,
      " · ",
      h("a", { href: `#/recall?${new URLSearchParams({ kind: node.kind, id: node.id, direction: "BACKWARD" })}` }, "Trace back from here · 由此溯源")),
    table(
      [
        { en: "Link", zh: "關係", cell: (e) => e.relation },
        { en: "Other end", zh: "另一端", cell: (e) => (`${e.fromKind}:${e.fromId}` === key ? `→ ${e.toId}` : `← ${e.fromId}`) },
        { en: "When", zh: "時間", cell: (e) => when(e.at) },
      ],
      touching,
    ),
  );
}

function scopeCsv(trace) {
  const rows = [["kind 類型", "id 編號", "in recall scope 回收範圍"]];
  const scope = new Set([...trace.affectedBatches.map((b) => `BATCH:${b}`), ...trace.affectedPatients.map((p) => `PATIENT:${p}`), ...trace.affectedSites.map((s) => `SITE:${s}`)]);
  for (const n of trace.nodes) rows.push([n.kind, n.id, scope.has(`${n.kind}:${n.id}`) ? "yes" : ""]);
  return csv(rows);
}

function initiateForm(origin) {
  const recallId = h("input", { id: "recall-id", required: true, size: "18", placeholder: "RCL-2026-010" });
  const reason = h("textarea", { id: "recall-reason", required: true, rows: "3", cols: "34" });
  const outcome = h("div", { "aria-live": "assertive" });
  return h("form", {
      class: "card",
      onsubmit: async (event) => {
        event.preventDefault();
        if (!confirm(`Initiate recall ${recallId.value} of ${origin.kind} ${origin.id}? · 確認發起回收？`)) return;
        try {
          const done = (await gql(INITIATE, { input: { recallId: recallId.value.trim(), origin, reason: reason.value.trim() }, commandId: crypto.randomUUID() })).initiateRecall;
          put(outcome, h("p", { class: "ok" }, `Recall ${done.id} initiated by ${done.initiatedBy} at ledger position ${done.trace.position}: ${done.trace.nodes.length} nodes in scope.`));
        } catch (error) {
          put(outcome, errorBox(error));
        }
      },
    },
    h("h2", {}, bi("Initiate a recall from this origin", "由此起點發起回收")),
    h("label", { for: "recall-id" }, bi("Recall id", "回收編號"), recallId),
    h("label", { for: "recall-reason" }, bi("Reason", "原因"), reason),
    h("p", {}, h("button", { type: "submit" }, "Initiate recall · 發起回收")),
    outcome,
  );
}
