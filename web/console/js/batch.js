// A batch's chain on one timeline: donor code, donation, steps, QC, release signature, holds,
// shipments and custody, administration and adverse reactions; each item links to its ledger
// event (position) and shows its hash.

import { gql } from "./api.js";
import { bi, errorBox, eventLink, h, put, table, when } from "./dom.js";

const BATCHES = `query ConsoleBatches($after: String, $filter: BatchFilter) {
  batches(first: 100, after: $after, filter: $filter) {
    nodes { id product status siteId controlSiteId held affected startedAt }
    pageInfo { hasNextPage endCursor }
  }
}`;

const BATCH = `query ConsoleBatch($id: ID!) {
  batch(id: $id) {
    id product status donationId donorCode patientCode controlSiteId siteId location startedAt
    chainOfIdentityId recalls held affectedBy
    release { qualifiedPerson signatureMeaning releasedAt }
    holds { key kind raisedAt raisedPosition description active
      lift { at reason signedBy signatureMeaning position } }
  }
}`;

const FLOW = `query ConsoleBatchFlow($id: ID!) {
  sourceAndFlow(batchId: $id) { flow { shipmentId } }
}`;

const EVENTS = `query ConsoleBatchEvents($aggregateId: ID!) {
  events(first: 200, filter: { aggregateId: $aggregateId }) {
    nodes { position aggregateId type recordedAt actor actorRole payload hash }
  }
}`;

const ADVERSE = `query ConsoleBatchAdverse($id: ID!) {
  adverseEvents(filter: { batchId: $id }) { id serious awareAt reportingDeadline overdue submittedToAuthorityAt description }
}`;

// What each kind of event is called on the timeline.
const TITLES = {
  "Donation.Recorded": ["Donation", "捐贈"],
  "Batch.Started": ["Manufacture started", "開始製造"],
  "Batch.StepRecorded": ["Manufacturing step", "製程步驟"],
  "Batch.QcResultRecorded": ["QC result", "品管結果"],
  "Batch.Released": ["Release signature", "放行簽署"],
  "Batch.Rejected": ["Rejected", "拒絕放行"],
  "Batch.Dispatched": ["Dispatched", "出貨"],
  "Batch.Received": ["Received", "收貨"],
  "Batch.Administered": ["Administered", "施用"],
  "Batch.Recalled": ["Recalled", "回收"],
  "Batch.HoldLifted": ["Hold lifted", "解除暫停"],
  "Shipment.Dispatched": ["Shipment dispatched (custody)", "運送交付"],
  "Shipment.Received": ["Shipment received (custody)", "運送接收"],
  "Shipment.TemperatureExcursionRecorded": ["Temperature excursion", "溫度偏差"],
  "AdverseEvent.Reported": ["Adverse reaction reported", "不良反應通報"],
  "AdverseEvent.SubmittedToAuthority": ["Adverse reaction submitted to authority", "已通報主管機關"],
};

function title(type) {
  const known = TITLES[type];
  if (known) return bi(known[0], known[1]);
  return type.replace(/^\w+\./, "").replace(/([a-z])([A-Z])/g, "$1 $2");
}

// The few payload fields that say what happened, in words.
function summary(p) {
  const parts = [];
  const add = (label, value) => {
    if (value !== undefined && value !== null && value !== "") parts.push(`${label}: ${Array.isArray(value) ? value.join(", ") : typeof value === "object" ? JSON.stringify(value) : value}`);
  };
  add("donor", p.donor_code);
  add("type", p.donation_type);
  add("step", p.step);
  add("site", p.site_id);
  add("test", p.test);
  add("result", p.result);
  if (p.passed !== undefined) parts.push(p.passed ? "passed · 合格" : "FAILED · 不合格");
  add("qualified person", p.qualified_person);
  add("signature meaning", p.signature_meaning);
  add("shipment", p.shipment_id);
  add("from", p.from_site_id);
  add("to", p.to_site_id);
  add("courier", p.courier);
  add("material lots", p.material_lots);
  add("patient", p.patient_code);
  add("identity verified", p.identity_verified);
  add("condition acceptable", p.condition_acceptable);
  add("recall", p.recall_id);
  add("reason", p.reason);
  add("description", p.description);
  add("authority", p.authority);
  return parts.join(" · ");
}

export async function batchPage(main, id, params) {
  if (!id) return batchList(main, params);
  const data = await gql(BATCH, { id });
  const batch = data.batch;
  if (!batch) {
    put(main, h("h1", {}, bi("Batch", "批次"), ` ${id}`), errorBox(new Error("not found, or not within your reach · 查無此批次或不在您的權限內")));
    return;
  }
  // Shipments and adverse reactions, where the role may read them.
  let shipments = [];
  let adverse = [];
  let adverseRefused = null;
  let flowRefused = null;
  try {
    shipments = ((await gql(FLOW, { id })).sourceAndFlow?.flow ?? []).map((f) => f.shipmentId);
  } catch (error) {
    flowRefused = error; // a role without sourceAndFlow sees the batch's own events only
  }
  try {
    adverse = (await gql(ADVERSE, { id })).adverseEvents;
  } catch (error) {
    adverseRefused = error;
  }
  const aggregates = [`Donation:${batch.donationId}`, `Batch:${batch.id}`, ...shipments.map((s) => `Shipment:${s}`), ...adverse.map((a) => `AdverseEvent:${a.id}`)];
  let events = [];
  let eventsRefused = null;
  try {
    const pages = await Promise.all(aggregates.map((aggregateId) => gql(EVENTS, { aggregateId })));
    events = pages.flatMap((found) => found.events.nodes);
  } catch (error) {
    eventsRefused = error;
  }
  events.sort((a, b) => (a.payload.occurred_at || a.recordedAt).localeCompare(b.payload.occurred_at || b.recordedAt) || a.position - b.position);

  const release = batch.release;
  const facts = [
    [bi("Product", "製劑"), batch.product],
    [bi("Status", "狀態"), [h("span", { class: `badge ${batch.held ? "overdue" : "neutral"}` }, batch.status), batch.held ? " held · 暫停中" : null]],
    [bi("Donor code", "提供者代碼"), batch.donorCode],
    [bi("Donation", "捐贈編號"), batch.donationId],
    [bi("Patient code", "病患代碼"), batch.patientCode],
    [bi("Chain of identity", "身分鏈"), h("span", { class: "mono" }, batch.chainOfIdentityId)],
    [bi("Made at", "製造場所"), h("a", { href: `#/site/${batch.siteId}` }, batch.siteId)],
    [bi("Control site", "主控場所"), h("a", { href: `#/site/${batch.controlSiteId}` }, batch.controlSiteId)],
    [bi("Now at", "目前位置"), batch.location],
    [bi("Recalls", "回收"), batch.recalls.join(", ") || "—"],
  ];
  put(main,
    h("p", {}, h("a", { href: "#/batch" }, "← Batches · 批次")),
    h("h1", {}, bi("Batch", "批次"), ` ${batch.id}`),
    h("div", { class: "cards" },
      h("section", { class: "card" }, h("table", {}, h("tbody", {}, facts.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, v)))))),
      h("section", { class: "card", "data-testid": "release-signature", "aria-labelledby": "release" },
        h("h2", { id: "release" }, bi("Release signature", "放行簽署")),
        release
          ? h("dl", {},
              h("dt", {}, bi("Qualified person", "放行負責人")), h("dd", { "data-field": "qualifiedPerson" }, release.qualifiedPerson),
              h("dt", {}, bi("Meaning", "簽署意義")), h("dd", { "data-field": "signatureMeaning" }, release.signatureMeaning),
              h("dt", {}, bi("Signed", "簽署時間")), h("dd", { "data-field": "releasedAt" }, when(release.releasedAt)))
          : h("p", { class: "muted" }, "not released · 尚未放行"),
        h("h2", {}, bi("Holds", "暫停")),
        batch.holds.length
          ? h("ul", {}, batch.holds.map((hold) => h("li", {},
              h("span", { class: `badge ${hold.active ? "overdue" : "neutral"}` }, hold.active ? "ACTIVE · 生效中" : "lifted · 已解除"),
              ` ${hold.kind}: ${hold.description} (${when(hold.raisedAt)}) `,
              hold.raisedPosition ? eventLink(hold.raisedPosition) : null,
              hold.lift ? [" — lifted by ", hold.lift.signedBy, " ", eventLink(hold.lift.position)] : null)))
          : h("p", { class: "muted" }, "none · 無"),
      ),
    ),
    h("h2", {}, bi("Timeline", "時間軸")),
    eventsRefused ? errorBox(eventsRefused) : null,
    flowRefused && flowRefused.code !== "FORBIDDEN" ? errorBox(flowRefused) : null,
    h("ol", { class: "timeline", "aria-label": "Batch timeline · 批次時間軸" },
      events.map((e) => h("li", {
          class: e.type.endsWith(".Released") ? "release" : e.type.startsWith("AdverseEvent") ? "adverse" : /Recalled|Rejected|Excursion/.test(e.type) ? "hold" : null,
          "data-type": e.type,
          "data-position": String(e.position),
        },
        h("div", { class: "when" }, when(e.payload.occurred_at || e.recordedAt), " · ", e.aggregateId),
        h("div", { class: "what" }, title(e.type)),
        h("div", {}, summary(e.payload)),
        h("div", { class: "muted" }, `${e.actor} (${e.actorRole}) · `, eventLink(e.position, e.hash))))),
    h("h2", {}, bi("Adverse reactions", "不良反應")),
    adverseRefused
      ? h("p", { class: "muted" }, "Your role may not read adverse reactions. · 您的角色無法讀取不良反應。")
      : adverse.length
        ? table(
            [
              { en: "Report", zh: "通報", cell: (a) => a.id },
              { en: "Serious", zh: "嚴重", cell: (a) => (a.serious ? "yes · 是" : "no · 否") },
              { en: "Deadline", zh: "通報期限", cell: (a) => [when(a.reportingDeadline), a.overdue ? [" ", h("span", { class: "badge overdue" }, "OVERDUE · 逾期")] : null] },
              { en: "Submitted", zh: "已通報", cell: (a) => when(a.submittedToAuthorityAt) },
              { en: "Description", zh: "描述", cell: (a) => a.description },
            ],
            adverse,
            (a) => (a.overdue ? "overdue" : null),
          )
        : h("p", { class: "muted" }, "none · 無"),
  );
}

async function batchList(main, params) {
  const held = params.get("held") === "true";
  const found = await gql(BATCHES, { filter: held ? { held: true } : null });
  const search = h("input", { id: "batch-id", name: "batch-id", list: "batch-ids", required: true, size: "24" });
  put(main,
    h("h1", {}, bi("Batches", "批次")),
    h("form", { class: "row", onsubmit: (e) => { e.preventDefault(); location.hash = `#/batch/${encodeURIComponent(search.value.trim())}`; } },
      h("label", { for: "batch-id" }, bi("Batch number", "批號"), search),
      h("datalist", { id: "batch-ids" }, found.batches.nodes.map((b) => h("option", { value: b.id }))),
      h("button", { type: "submit" }, "Open · 開啟"),
      h("a", { class: "button secondary", href: held ? "#/batch" : "#/batch?held=true" }, held ? "All batches · 全部" : "Held only · 僅暫停中"),
    ),
    table(
      [
        { en: "Batch", zh: "批號", cell: (b) => h("a", { href: `#/batch/${encodeURIComponent(b.id)}` }, b.id) },
        { en: "Product", zh: "製劑", cell: (b) => b.product },
        { en: "Status", zh: "狀態", cell: (b) => b.status },
        { en: "Site", zh: "場所", cell: (b) => b.siteId },
        { en: "Held", zh: "暫停", cell: (b) => (b.held ? "yes · 是" : "") },
        { en: "Started", zh: "開始", cell: (b) => when(b.startedAt) },
      ],
      found.batches.nodes,
      (b) => (b.held ? "held" : null),
    ),
    found.batches.pageInfo.hasNextPage ? h("p", { class: "muted" }, "The first 100 shown; type a batch number to open another. · 僅顯示前 100 筆。") : null,
  );
}
