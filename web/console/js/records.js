// Records: Taiwan source-and-flow records (來源及流向) with filters and a bilingual CSV download;
// adverse reactions with deadlines, the overdue ones highlighted; open holds and notifications.

import { gql } from "./api.js";
import { bi, csv, download, errorBox, h, put, table, when } from "./dom.js";

const RECORDS = `query ConsoleSourceAndFlow($filter: SourceAndFlowFilter, $after: String) {
  sourceAndFlowRecords(filter: $filter, first: 40, after: $after) {
    nodes {
      batchId product status quantity manufacturedAt expiresAt chainOfIdentityId
      manufacturerSite { id name }
      source { donorCode donationId donationType acquiredAt acquisitionSite { id } }
      release { decision qualifiedPerson decidedAt signatureMeaning }
      flow { shipmentId fromSite { id name } toSite { id name location contact } dispatchedAt receivedAt courier }
      finalDisposition { kind at patientCode site { id } }
    }
    pageInfo { hasNextPage endCursor }
  }
}`;

const ADVERSE = `query ConsoleAdverse($filter: AdverseEventFilter) {
  adverseEvents(filter: $filter) {
    id batchId patientCode reportedBySite { id } serious awareAt reportingDeadline
    submittedToAuthorityAt overdue submittedLate description jurisdiction authority
  }
}`;

const HOLDS = `query ConsoleHolds {
  batches(first: 50, filter: { held: true }) {
    nodes { id product status siteId holds { key kind raisedAt description active raisedPosition } }
  }
}`;

const NOTIFICATIONS = `query ConsoleNotifications {
  physicianNotifications(first: 100, filter: { open: true }) {
    nodes { batchId patientCode siteId holdKeys raisedAt open }
  }
}`;

// (column, 中文, English, value): one row per batch and recipient, as the inspectors' CSV has.
const COLUMNS = [
  ["批號", "Batch number", (r) => r.batchId],
  ["製劑", "Product", (r) => r.product],
  ["狀態", "Status", (r) => r.status],
  ["製造數量", "Quantity made", (r) => r.quantity],
  ["製造日期", "Manufacture date", (r) => r.manufacturedAt?.slice(0, 10)],
  ["有效期限", "Expiry date", (r) => r.expiresAt?.slice(0, 10)],
  ["組織細胞追蹤編碼", "Tissue/cell tracking code", (r) => r.chainOfIdentityId],
  ["捐贈類型", "Donation type", (r) => r.source.donationType],
  ["提供者代碼", "Donor code", (r) => r.source.donorCode],
  ["製造場所", "Manufacturer", (r) => `${r.manufacturerSite.id} ${r.manufacturerSite.name}`],
  ["放行人員", "Released by", (r) => r.release?.qualifiedPerson],
  ["放行日期", "Release date", (r) => r.release?.decidedAt?.slice(0, 10)],
  ["收受者", "Recipient", (r, f) => (f ? `${f.toSite.id} ${f.toSite.name}` : "")],
  ["收受者地址", "Recipient address", (r, f) => f?.toSite.location],
  ["收受者聯絡方式", "Recipient contact", (r, f) => f?.toSite.contact],
  ["交付日期", "Delivery date", (r, f) => f?.receivedAt?.slice(0, 10)],
  ["最終處置", "Final disposition", (r) => r.finalDisposition?.kind],
  ["病患代碼", "Patient code", (r) => r.finalDisposition?.patientCode],
];

export async function recordsPage(main, _id, params) {
  const fields = [
    ["donorCode", "Donor code", "提供者代碼"],
    ["siteId", "Site", "場所"],
    ["product", "Product", "製劑"],
    ["releasedFrom", "Released from", "放行日起"],
    ["releasedTo", "Released to", "放行日迄"],
  ];
  const inputs = Object.fromEntries(fields.map(([k]) => [k, h("input", { id: `f-${k}`, name: k, value: params.get(k) || "", size: "16" })]));
  const filter = {};
  for (const [k] of fields) if (params.get(k)) filter[k] = params.get(k);
  const sections = {
    flow: h("section", { id: "source-and-flow", "aria-busy": "true" }),
    adverse: h("section", { id: "adverse", "aria-busy": "true" }),
    holds: h("section", { id: "holds", "aria-busy": "true" }),
    notifications: h("section", { id: "notifications", "aria-busy": "true" }),
  };
  put(main,
    h("h1", {}, bi("Records", "紀錄")),
    h("h2", {}, bi("Source-and-flow records", "來源及流向資料")),
    h("form", { class: "row", onsubmit: (e) => {
        e.preventDefault();
        const q = new URLSearchParams();
        for (const [k] of fields) if (inputs[k].value.trim()) q.set(k, inputs[k].value.trim());
        location.hash = `#/records?${q}`;
      } },
      fields.map(([k, en, zh]) => h("label", { for: `f-${k}` }, bi(en, zh), inputs[k])),
      h("button", { type: "submit" }, "Filter · 篩選"),
    ),
    sections.flow,
    h("h2", {}, bi("Adverse reactions", "不良反應")),
    sections.adverse,
    h("h2", {}, bi("Open holds", "暫停中的批次")),
    sections.holds,
    h("h2", {}, bi("Open physician notifications", "待通知醫師")),
    sections.notifications,
  );
  await Promise.all([
    fill(sections.flow, async () => flowSection(filter)),
    fill(sections.adverse, adverseSection),
    fill(sections.holds, holdsSection),
    fill(sections.notifications, notificationsSection),
  ]);
}

async function fill(section, build) {
  try {
    put(section, ...[await build()].flat());
  } catch (error) {
    put(section, error.code === "FORBIDDEN" ? h("p", { class: "muted" }, "Your role may not read these. · 您的角色無法讀取。") : errorBox(error));
  } finally {
    section.removeAttribute("aria-busy");
  }
}

async function flowSection(filter) {
  const records = [];
  let after = null;
  do {
    const page = (await gql(RECORDS, { filter: Object.keys(filter).length ? filter : null, after })).sourceAndFlowRecords;
    records.push(...page.nodes);
    after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
  } while (after && records.length < 2000);
  const rows = records.flatMap((r) => (r.flow.length ? r.flow.map((f) => [r, f]) : [[r, null]]));
  const csvRows = [COLUMNS.map(([zh, en]) => `${zh} ${en}`), ...rows.map(([r, f]) => COLUMNS.map(([, , v]) => v(r, f) ?? ""))];
  return [
    h("p", {},
      `${records.length} records · 筆 `,
      h("button", { type: "button", id: "download-csv", class: "secondary", onclick: () => download("source-and-flow.csv", csv(csvRows)) }, "Download CSV (中文 / English) · 下載 CSV")),
    table(
      [
        { en: "Batch number", zh: "批號", cell: (r) => h("a", { href: `#/batch/${encodeURIComponent(r.batchId)}` }, r.batchId) },
        { en: "Product", zh: "製劑", cell: (r) => r.product },
        { en: "Status", zh: "狀態", cell: (r) => r.status },
        { en: "Donor code", zh: "提供者代碼", cell: (r) => r.source.donorCode },
        { en: "Manufacturer", zh: "製造場所", cell: (r) => r.manufacturerSite.id },
        { en: "Release", zh: "放行", cell: (r) => (r.release ? `${r.release.decision} ${when(r.release.decidedAt)} · ${r.release.qualifiedPerson}` : "—") },
        { en: "Recipients", zh: "收受者", cell: (r) => r.flow.map((f) => `${f.toSite.id} (${f.receivedAt ? when(f.receivedAt) : "in transit · 運送中"})`).join("; ") || "—" },
        { en: "Final disposition", zh: "最終處置", cell: (r) => (r.finalDisposition ? `${r.finalDisposition.kind} ${when(r.finalDisposition.at)}` : "—") },
      ],
      records,
    ),
  ];
}

async function adverseSection() {
  const events = (await gql(ADVERSE, {})).adverseEvents;
  const overdue = events.filter((e) => e.overdue).length;
  return [
    h("p", {}, `${events.length} reports, `, h("strong", { class: overdue ? "error" : null }, `${overdue} overdue · 逾期`)),
    table(
      [
        { en: "Report", zh: "通報", cell: (a) => a.id },
        { en: "Batch", zh: "批號", cell: (a) => h("a", { href: `#/batch/${encodeURIComponent(a.batchId)}` }, a.batchId) },
        { en: "Serious", zh: "嚴重", cell: (a) => (a.serious ? "yes · 是" : "no · 否") },
        { en: "Aware", zh: "知悉時間", cell: (a) => when(a.awareAt) },
        { en: "Deadline", zh: "通報期限", cell: (a) => [when(a.reportingDeadline), a.overdue ? [" ", h("span", { class: "badge overdue" }, "OVERDUE · 逾期")] : null] },
        { en: "Submitted", zh: "已通報", cell: (a) => (a.submittedToAuthorityAt ? `${when(a.submittedToAuthorityAt)}${a.submittedLate ? " (late · 逾時)" : ""} ${a.authority ?? ""}` : "—") },
        { en: "Description", zh: "描述", cell: (a) => a.description },
      ],
      events,
      (a) => (a.overdue ? "overdue" : null),
    ),
  ];
}

async function holdsSection() {
  const batches = (await gql(HOLDS, {})).batches.nodes;
  const rows = batches.flatMap((b) => b.holds.filter((x) => x.active).map((x) => ({ ...x, batch: b })));
  return table(
    [
      { en: "Batch", zh: "批號", cell: (x) => h("a", { href: `#/batch/${encodeURIComponent(x.batch.id)}` }, x.batch.id) },
      { en: "Kind", zh: "類型", cell: (x) => x.kind },
      { en: "Raised", zh: "發生時間", cell: (x) => when(x.raisedAt) },
      { en: "Reason", zh: "原因", cell: (x) => x.description },
    ],
    rows,
    () => "held",
  );
}

async function notificationsSection() {
  const found = (await gql(NOTIFICATIONS, {})).physicianNotifications.nodes;
  return table(
    [
      { en: "Batch", zh: "批號", cell: (n) => h("a", { href: `#/batch/${encodeURIComponent(n.batchId)}` }, n.batchId) },
      { en: "Patient", zh: "病患", cell: (n) => n.patientCode },
      { en: "Site", zh: "場所", cell: (n) => n.siteId },
      { en: "Raised", zh: "發生時間", cell: (n) => when(n.raisedAt) },
      { en: "Reasons", zh: "原因", cell: (n) => n.holdKeys.join(", ") },
    ],
    found,
  );
}
