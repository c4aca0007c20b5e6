// Building the page: every text goes in as text (never as HTML), so records cannot inject markup.

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
}

// Replaces what ``node`` holds by ``children`` (nested lists flattened; null, undefined and
// false left out, so a section that does not apply is simply absent).
export function put(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

// An English label with its Traditional Chinese one beside it.
export function bi(en, zh) {
  return [en, " ", h("span", { class: "zh", lang: "zh-Hant" }, zh)];
}

export function table(columns, rows, rowClass = () => null) {
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c.en, c.zh ? h("span", { class: "zh", lang: "zh-Hant" }, c.zh) : null)))),
    h("tbody", {}, rows.map((row) => h("tr", { class: rowClass(row) }, columns.map((c) => h("td", {}, c.cell(row)))))),
  );
}

export function badge(status) {
  return h("span", { class: `badge ${status}` }, status);
}

export function when(iso) {
  if (!iso) return "—";
  return iso.replace("T", " ").replace(/:\d\d(\.\d+)?(\+00:00|Z)$/, " UTC");
}

let quiet = null;

// A short note in the corner (read out by screen readers), gone after a few seconds.
export function say(message) {
  document.getElementById("status").textContent = message;
  clearTimeout(quiet);
  if (message) quiet = setTimeout(() => say(""), 5000);
}

export function download(name, blob) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function csv(rows) {
  const cell = (v) => {
    const text = v === null || v === undefined ? "" : String(v);
    return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  // A byte-order mark, so spreadsheet programs read the Chinese headers as UTF-8.
  return new Blob(["\ufeff" + rows.map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n"], {
    type: "text/csv;charset=utf-8",
  });
}

export function errorBox(error) {
  return h("p", { class: "error", role: "alert" }, error.message || String(error));
}

// A link to the audit page at an event (its ledger position), showing the hash's start.
export function eventLink(position, hash) {
  return h(
    "a",
    { href: `#/audit?position=${position}`, class: "mono", title: hash ? `hash ${hash}` : null },
    `#${position}`,
    hash ? ` · ${hash.slice(0, 12)}…` : "",
  );
}
