// An interactive SVG graph: nodes placed by the caller (or in columns by kind), zoom with the
// wheel, the buttons or the + and - keys, pan by dragging or with the arrow keys, nodes reachable
// with Tab and opened with Enter or a click, and export as SVG or PNG. Drawn with presentation
// attributes only, so an exported SVG looks the same anywhere.

import { download, h } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

// Places nodes in one column per kind (in `order`), sorted by id within a column.
export function columns(nodes, order, { dx = 190, dy = 46 } = {}) {
  const byKind = new Map(order.map((k) => [k, []]));
  for (const node of nodes) {
    if (!byKind.has(node.kind)) byKind.set(node.kind, []);
    byKind.get(node.kind).push(node);
  }
  let column = 0;
  for (const list of byKind.values()) {
    if (!list.length) continue;
    list.sort((a, b) => a.id.localeCompare(b.id));
    list.forEach((node, row) => {
      node.x = 90 + column * dx;
      node.y = 40 + row * dy;
    });
    column += 1;
  }
  return nodes;
}

export function drawGraph({ nodes, edges, label, onSelect, width = 150, height = 30 }) {
  const svg = s("svg", {
    xmlns: SVG,
    class: "graph",
    role: "group",
    "aria-label": label,
    tabindex: "0",
    "font-family": "system-ui, sans-serif",
  });
  const view = s("g", { class: "view" });
  const edgeLayer = s("g", { class: "edges" });
  const nodeLayer = s("g", { class: "nodes" });
  view.append(edgeLayer, nodeLayer);
  svg.append(
    s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" }, s("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#6b7685" }))),
    s("rect", { x: "-100000", y: "-100000", width: "200000", height: "200000", fill: "#fbfcfd" }),
    view,
  );
  const at = new Map(nodes.map((n) => [n.key, n]));
  const drawnEdges = [];
  for (const edge of edges) {
    const a = at.get(edge.from);
    const b = at.get(edge.to);
    if (!a || !b) continue;
    const x1 = a.x + width / 2;
    const x2 = b.x - width / 2;
    const forward = x2 > x1 + 10;
    const bus = a.x - width / 2 + 12;
    const d = edge.route === "bus"
      ? `M ${bus} ${a.y + height / 2} V ${b.y} H ${b.x - width / 2}`
      : forward
      ? `M ${x1} ${a.y} C ${(x1 + x2) / 2} ${a.y}, ${(x1 + x2) / 2} ${b.y}, ${x2} ${b.y}`
      : `M ${a.x} ${a.y + height / 2} L ${b.x} ${b.y - height / 2}`;
    const line = s("path", {
      d,
      fill: "none",
      stroke: edge.color || "#8a94a3",
      "stroke-width": edge.width || "1.5",
      "stroke-dasharray": edge.dashed ? "6 4" : null,
      "marker-end": "url(#arrow)",
    });
    if (edge.label) line.append(s("title", {}, document.createTextNode(edge.label)));
    edgeLayer.append(line);
    drawnEdges.push({ edge, line });
  }
  const drawnNodes = [];
  for (const node of nodes) {
    const group = s("g", {
      class: "node",
      tabindex: "0",
      role: "button",
      "data-kind": node.kind,
      "data-id": node.id,
      "aria-label": `${node.kindLabel || node.kind} ${node.id}${node.sub && node.sub !== node.kindLabel ? `, ${node.sub}` : ""}`,
      transform: `translate(${node.x - width / 2} ${node.y - height / 2})`,
    });
    group.append(
      s("rect", { width, height, rx: "6", fill: node.fill || "#ffffff", stroke: node.color || "#0b5cad", "stroke-width": node.strong ? "3" : "2" }),
      s("rect", { width: "6", height, rx: "2", fill: node.color || "#0b5cad" }),
      s("text", { x: "12", y: node.sub ? "13" : "19", "font-size": "12", "font-weight": "600", fill: "#1b1f24" }, document.createTextNode(clip(node.label || node.id, Math.floor((width - 14) / 7.6)))),
    );
    if (node.sub) {
      group.append(s("text", { x: "12", y: "25", "font-size": "10", fill: "#4a5563" }, document.createTextNode(clip(node.sub, Math.floor((width - 14) / 5.6)))));
    }
    group.append(s("title", {}, document.createTextNode(`${node.kindLabel || node.kind}: ${node.id}${node.sub ? ` (${node.sub})` : ""}`)));
    const choose = () => onSelect?.(node);
    group.addEventListener("click", choose);
    group.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        choose();
      }
    });
    nodeLayer.append(group);
    drawnNodes.push({ node, group });
  }

  // The whole drawing's box, and the view onto it.
  const xs = nodes.map((n) => n.x);
  const ys = nodes.map((n) => n.y);
  const box = nodes.length
    ? { x: Math.min(...xs) - width / 2 - 20, y: Math.min(...ys) - height / 2 - 20, w: Math.max(...xs) - Math.min(...xs) + width + 40, h: Math.max(...ys) - Math.min(...ys) + height + 40 }
    : { x: 0, y: 0, w: 400, h: 200 };
  let vb = { ...box };
  const apply = () => svg.setAttribute("viewBox", `${vb.x} ${vb.y} ${vb.w} ${vb.h}`);
  const zoom = (factor, cx = vb.x + vb.w / 2, cy = vb.y + vb.h / 2) => {
    const w = Math.min(Math.max(vb.w * factor, 120), box.w * 8 + 400);
    const ratio = w / vb.w;
    vb = { x: cx - (cx - vb.x) * ratio, y: cy - (cy - vb.y) * ratio, w, h: vb.h * ratio };
    apply();
  };
  const reset = () => {
    vb = { ...box };
    apply();
  };
  apply();
  svg.addEventListener("wheel", (event) => {
    event.preventDefault();
    const r = svg.getBoundingClientRect();
    const scale = Math.max(vb.w / r.width, vb.h / r.height);
    const cx = vb.x + (event.clientX - r.left) * scale;
    const cy = vb.y + (event.clientY - r.top) * scale;
    zoom(event.deltaY > 0 ? 1.15 : 1 / 1.15, cx, cy);
  }, { passive: false });
  let drag = null;
  svg.addEventListener("pointerdown", (event) => {
    if (event.target.closest("g.node")) return;
    drag = { x: event.clientX, y: event.clientY, vb: { ...vb } };
    svg.setPointerCapture(event.pointerId);
  });
  svg.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const r = svg.getBoundingClientRect();
    const scale = Math.max(vb.w / r.width, vb.h / r.height);
    vb = { ...drag.vb, x: drag.vb.x - (event.clientX - drag.x) * scale, y: drag.vb.y - (event.clientY - drag.y) * scale };
    apply();
  });
  svg.addEventListener("pointerup", () => {
    drag = null;
  });
  svg.addEventListener("keydown", (event) => {
    const step = vb.w / 10;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (event.key === "+" || event.key === "=") zoom(1 / 1.2);
    else if (event.key === "-") zoom(1.2);
    else if (event.key === "0") reset();
    else if (moves[event.key] && event.target === svg) {
      vb = { ...vb, x: vb.x + moves[event.key][0], y: vb.y + moves[event.key][1] };
      apply();
    } else return;
    event.preventDefault();
  });

  const controls = h(
    "div",
    { class: "row", role: "toolbar", "aria-label": "Graph view · 圖形檢視" },
    h("button", { type: "button", class: "secondary", onclick: () => zoom(1 / 1.25), "aria-label": "Zoom in · 放大" }, "+"),
    h("button", { type: "button", class: "secondary", onclick: () => zoom(1.25), "aria-label": "Zoom out · 縮小" }, "−"),
    h("button", { type: "button", class: "secondary", onclick: reset }, "Fit · 全圖"),
  );

  return {
    svg,
    controls,
    // Shows only the nodes whose kind is in `kinds` (and the edges between shown nodes).
    show(kinds) {
      const visible = new Set();
      for (const { node, group } of drawnNodes) {
        const on = kinds.has(node.kind);
        group.setAttribute("display", on ? "inline" : "none");
        if (on) visible.add(node.key);
      }
      for (const { edge, line } of drawnEdges) {
        line.setAttribute("display", visible.has(edge.from) && visible.has(edge.to) ? "inline" : "none");
      }
    },
    visibleCount() {
      return drawnNodes.filter(({ group }) => group.getAttribute("display") !== "none").length;
    },
    svgText() {
      const copy = svg.cloneNode(true);
      copy.setAttribute("viewBox", `${box.x} ${box.y} ${box.w} ${box.h}`);
      copy.setAttribute("width", String(Math.round(box.w)));
      copy.setAttribute("height", String(Math.round(box.h)));
      copy.removeAttribute("class");
      for (const hidden of copy.querySelectorAll('[display="none"]')) hidden.remove();
      return new XMLSerializer().serializeToString(copy);
    },
    exportSvg(name) {
      download(name, new Blob([this.svgText()], { type: "image/svg+xml" }));
    },
    async exportPng(name) {
      const url = URL.createObjectURL(new Blob([this.svgText()], { type: "image/svg+xml" }));
      try {
        const image = new Image();
        image.src = url;
        await image.decode();
        const canvas = document.createElement("canvas");
        const scale = Math.min(2, 8000 / Math.max(box.w, box.h));
        canvas.width = Math.round(box.w * scale);
        canvas.height = Math.round(box.h * scale);
        const pen = canvas.getContext("2d");
        pen.fillStyle = "#ffffff";
        pen.fillRect(0, 0, canvas.width, canvas.height);
        pen.drawImage(image, 0, 0, canvas.width, canvas.height);
        const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
        download(name, blob);
      } finally {
        URL.revokeObjectURL(url);
      }
    },
  };
}

function clip(text, size) {
  return text.length > size ? `${text.slice(0, size - 1)}…` : text;
}
