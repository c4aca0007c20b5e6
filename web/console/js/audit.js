// Audit: the ledger events of any record (or around a position), a verify button with its
// result, and the signed checkpoints.

import { gql } from "./api.js";
import { bi, errorBox, h, put, table, when } from "./dom.js";

const EVENTS = `query ConsoleEvents($filter: EventFilter, $after: String) {
  events(filter: $filter, first: 100, after: $after) {
    nodes { position aggregateId aggregateType version type recordedAt actor actorRole hash payload }
    pageInfo { hasNextPage endCursor }
  }
}`;

const VERIFY = `query ConsoleVerify { verifyLedger { ok checkedEvents headPosition headHash firstMismatchPosition problem } }`;

const CHECKPOINTS = `query ConsoleCheckpoints { checkpoints(first: 50) { nodes { id position headHash signedAt keyId } } }`;

export async function auditPage(main, _id, params) {
  const aggregate = params.get("aggregate") || "";
  const position = params.get("position");
  const input = h("input", { id: "aggregate", name: "aggregate", value: aggregate, size: "34", placeholder: "Batch:CART-26001" });
  const at = h("input", { id: "position", name: "position", value: position || "", size: "8", inputmode: "numeric" });
  const events = h("section", { id: "events", "aria-live": "polite" });
  const verdict = h("div", { id: "verify-result", "aria-live": "polite" });
  const checkpoints = h("section", { id: "checkpoints" });
  put(main,
    h("h1", {}, bi("Audit", "稽核")),
    h("form", { class: "row", onsubmit: (e) => {
        e.preventDefault();
        const q = new URLSearchParams();
        if (input.value.trim()) q.set("aggregate", input.value.trim());
        if (at.value.trim()) q.set("position", at.value.trim());
        location.hash = `#/audit?${q}`;
      } },
      h("label", { for: "aggregate" }, bi("Record (Kind:id)", "紀錄"), input),
      h("label", { for: "position" }, bi("or ledger position", "或帳本位置"), at),
      h("button", { type: "submit" }, "Show events · 顯示事件"),
    ),
    events,
    h("h2", {}, bi("Verify the hash chain", "驗證雜湊鏈")),
    h("p", {}, h("button", { type: "button", id: "verify", onclick: () => verify(verdict) }, "Verify the ledger · 驗證帳本")),
    verdict,
    h("h2", {}, bi("Signed checkpoints", "簽章檢查點")),
    checkpoints,
  );
  const loads = [loadCheckpoints(checkpoints)];
  if (aggregate || position) loads.push(loadEvents(events, aggregate, position));
  await Promise.all(loads);
}

async function loadEvents(section, aggregate, position) {
  const filter = aggregate ? { aggregateId: aggregate } : {};
  if (position) {
    filter.fromPosition = Number(position);
    filter.toPosition = Number(position);
  }
  try {
    const found = (await gql(EVENTS, { filter })).events;
    put(section,
      h("p", {}, `${found.nodes.length} events${found.pageInfo.hasNextPage ? " (first 100)" : ""} · 事件`),
      table(
        [
          { en: "Position", zh: "位置", cell: (e) => h("span", { class: "mono", id: `event-${e.position}` }, `#${e.position}`) },
          { en: "Record", zh: "紀錄", cell: (e) => h("a", { href: `#/audit?aggregate=${encodeURIComponent(e.aggregateId)}` }, e.aggregateId) },
          { en: "Version", zh: "版本", cell: (e) => e.version },
          { en: "Event", zh: "事件", cell: (e) => e.type },
          { en: "Occurred", zh: "發生時間", cell: (e) => when(e.payload.occurred_at) },
          { en: "Recorded", zh: "記錄時間", cell: (e) => when(e.recordedAt) },
          { en: "Actor", zh: "執行者", cell: (e) => `${e.actor} (${e.actorRole})` },
          { en: "Hash", zh: "雜湊", cell: (e) => h("span", { class: "mono hash" }, e.hash) },
          { en: "Payload", zh: "內容", cell: (e) => h("details", {}, h("summary", {}, "show · 顯示"), h("pre", {}, JSON.stringify(e.payload, null, 2))) },
        ],
        found.nodes,
      ),
    );
  } catch (error) {
    put(section, errorBox(error));
  }
}

async function verify(verdict) {
  put(verdict, h("p", { class: "muted" }, "Verifying · 驗證中…"));
  try {
    const v = (await gql(VERIFY)).verifyLedger;
    put(verdict,
      h("p", { class: v.ok ? "ok" : "error", "data-ok": String(v.ok) },
        v.ok
          ? `Intact · 完整: ${v.checkedEvents} events checked, head #${v.headPosition}`
          : `BROKEN · 遭竄改 at position ${v.firstMismatchPosition}: ${v.problem}`),
      h("p", { class: "mono hash" }, `head hash ${v.headHash}`),
    );
  } catch (error) {
    put(verdict, errorBox(error));
  }
}

async function loadCheckpoints(section) {
  try {
    const found = (await gql(CHECKPOINTS)).checkpoints.nodes;
    put(section,
      found.length
        ? table(
            [
              { en: "Checkpoint", zh: "檢查點", cell: (c) => c.id },
              { en: "Position", zh: "位置", cell: (c) => h("a", { href: `#/audit?position=${c.position}` }, `#${c.position}`) },
              { en: "Signed", zh: "簽章時間", cell: (c) => when(c.signedAt) },
              { en: "Key", zh: "金鑰", cell: (c) => c.keyId },
              { en: "Head hash", zh: "雜湊", cell: (c) => h("span", { class: "mono hash" }, c.headHash) },
            ],
            found,
          )
        : h("p", { class: "muted" }, "No checkpoint taken yet (regentrace checkpoint). · 尚無檢查點。"),
    );
  } catch (error) {
    put(section, error.code === "FORBIDDEN" ? h("p", { class: "muted" }, "Your role may not read checkpoints. · 您的角色無法讀取檢查點。") : errorBox(error));
  }
}
