// The skeleton player (st.components.v2, see motionlab/lab/player.py): clips arrive once as uint16 in a
// box per panel; the plotly figure and its animation frames are built here with plotly.js. All panels
// share one pair of axes (each in its own square cell), and a frame updates five traces (held joints,
// three bone colours, one joint-marker trace), not four per panel: plotly's cost per frame is per trace
// and per marker. Streamlit calls this function again on every rerun; the view lives on the parent
// element and only rebuilds when the payload's id changes.

const TITLE_H = 22; // px above each panel for its title
const GAP = 6;      // px between a panel's square and its cell
const LINES = ["center", "left", "right"];

// The display's frame interval (the shortest gap between animation frames: a busy page only makes gaps
// longer). plotly shows a frame on the first animation frame after `duration`, so one clip frame minus
// half a display frame keeps playback at the clip's rate (one clip frame: 30 fps played at 21-24).
let vsync = 1000 / 60;
(() => {
  let last = null, gap = Infinity, n = 0;
  const tick = (t) => {
    if (last !== null) gap = Math.min(gap, t - last);
    last = t;
    if (++n < 30) requestAnimationFrame(tick);
    else vsync = Math.min(1000 / 30, Math.max(1000 / 240, gap));
  };
  requestAnimationFrame(tick);
})();

function loadPlotly(url) {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!window.__motionlabPlotly) {
    window.__motionlabPlotly = new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = url;
      s.onload = () => resolve(window.Plotly);
      s.onerror = () => { window.__motionlabPlotly = null; reject(new Error(`plotly.js did not load from ${url}`)); };
      document.head.appendChild(s);
    });
  }
  return window.__motionlabPlotly;
}

function bytes(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const skeleton = (k) => ({ J: k.joints, lines: k.lines, sides: k.sides });

// Per panel: where its square sits (plot units = pixels at build width) and how uint16 maps into it.
function place(d, width) {
  const cols = d.cols, W = Math.max(200, width - 20), cellW = W / cols, cellH = d.panel_height;
  const side = Math.max(20, Math.min(cellW, cellH - TITLE_H) - 2 * GAP);
  const panels = d.panels.map((p, i) => {
    const r = Math.floor(i / cols), c = i % cols;
    const x0 = c * cellW + (cellW - side) / 2, y0 = r * cellH + TITLE_H + (cellH - TITLE_H - side) / 2;
    const [bx0, by0, bx1] = p.bounds, sc = side / (bx1 - bx0), [qx0, qy0, qs] = p.box;
    const q = new Uint16Array(bytes(p.points).buffer);
    const held = p.held ? bytes(p.held) : null;
    return {
      p, q, held, x0, y0, side, ...skeleton(d.skeletons[p.skeleton]),
      ax: (qs / 65534) * sc, bx: x0 + (qx0 - bx0) * sc, by: y0 + (qy0 - by0) * sc,
    };
  });
  return { W, H: Math.ceil(d.panels.length / cols) * cellH, panels };
}

// x and y of one trace at shown frame s: every panel's points, NaN between panels and bone segments.
// kind: a bone colour (its polyline), "points" (every joint) or "held" (the held joints only).
function coords(cells, kind, s) {
  const xs = [], ys = [];
  for (const c of cells) {
    const idx = LINES.includes(kind) ? c.lines[kind] : null;
    if (kind === "held" ? !c.held : LINES.includes(kind) && !idx) continue;
    const f = Math.min(s, c.p.frames - 1), base = f * c.J * 2, n = idx ? idx.length : c.J;
    for (let k = 0; k < n; k++) {
      const j = idx ? idx[k] : k, qx = c.q[base + 2 * j], qy = c.q[base + 2 * j + 1];
      let ok = j >= 0 && qx !== 65535 && qy !== 65535;
      if (ok && kind === "held") { const b = f * c.J + j; ok = (c.held[b >> 3] >> (7 - (b & 7))) & 1; }
      xs.push(ok ? c.bx + qx * c.ax : NaN);
      ys.push(ok ? c.by + qy * c.ax : NaN);
    }
    xs.push(NaN); ys.push(NaN);
  }
  return { x: Float32Array.from(xs), y: Float32Array.from(ys) };
}

function figure(d, width, font) {
  const { W, H, panels } = place(d, width);
  const T = d.num_frames, k = d.step, shown = [];
  for (let t = 0; t < T; t += k) shown.push(t);
  const kinds = [];
  if (panels.some((c) => c.held)) kinds.push("held");
  for (const s of LINES) if (panels.some((c) => c.lines[s])) kinds.push(s);
  kinds.push("points");
  const pointColors = panels.flatMap((c) => [...c.sides.map((k) => d.colors[LINES[k]]), "#000"]);
  const data = kinds.map((s) => {
    const { x, y } = coords(panels, s, 0);
    if (s === "held") {
      return { type: "scatter", x, y, name: "given (held)", mode: "markers", hoverinfo: "skip",
               marker: { color: d.known_color, size: 13 } };
    }
    if (s === "points") {
      return { type: "scatter", x, y, name: "joints", showlegend: false, mode: "markers", hoverinfo: "skip",
               marker: { color: pointColors, size: 5 } };
    }
    return { type: "scatter", x, y, name: s, mode: "lines", hoverinfo: "skip", line: { color: d.colors[s], width: 3 } };
  });
  const traces = kinds.map((_, i) => i);
  const frames = shown.map((t, s) => ({ name: String(t), traces,
    data: kinds.map((kind) => coords(panels, kind, s)) }));
  const still = { mode: "immediate", frame: { duration: 0, redraw: false }, transition: { duration: 0 } };
  const many = shown.length > 30, title = !!d.title;
  const layout = {
    height: H + 110 + (title ? 30 : 0), font: font ? { family: font } : {},
    margin: { l: 10, r: 10, t: title ? 40 : 10, b: 100 },
    xaxis: { range: [0, W], visible: false, fixedrange: false },
    yaxis: { range: [H, 0], visible: false, scaleanchor: "x", scaleratio: 1 },
    annotations: panels.map((c) => ({ text: c.p.title, x: c.x0 + c.side / 2, y: c.y0 - 2, xref: "x", yref: "y",
                                      xanchor: "center", yanchor: "bottom", showarrow: false, font: { size: 12 } })),
    shapes: panels.map((c) => ({ type: "rect", x0: c.x0, x1: c.x0 + c.side, y0: c.y0, y1: c.y0 + c.side,
                                 line: { color: "#d0d0d0", width: 1 }, layer: "below" })),
    plot_bgcolor: "white", paper_bgcolor: "white", hovermode: false, dragmode: "pan", uirevision: "skeleton",
    legend: { orientation: "h", x: 1, xanchor: "right", y: 1.0, yanchor: "bottom" },
    meta: { frame_step: k, num_frames: T, shown_frames: shown.length, panels: panels.length },
    updatemenus: [{
      type: "buttons", direction: "left", showactive: false, x: 0, y: 0, xanchor: "left", yanchor: "top",
      pad: { t: 48, r: 10 },
      buttons: [
        { label: "▶ Play", method: "animate",
          args: [null, { mode: "immediate", fromcurrent: true, transition: { duration: 0 },
                         frame: { duration: Math.max(1, (1000 * k) / Math.max(d.fps, 1e-3) - vsync / 2), redraw: false } }] },
        { label: "❚❚ Pause", method: "animate", args: [[null], still] },
      ],
    }],
    sliders: [{
      active: 0, x: 0.16, len: 0.84, y: 0, yanchor: "top", pad: { t: 40, b: 0 },
      currentvalue: { prefix: "frame ", visible: true, xanchor: "left", font: { color: "#333" } },
      font: many ? { color: "rgba(0,0,0,0)" } : {}, ticklen: many ? 0 : 5, minorticklen: many ? 0 : 4,
      tickcolor: many ? "rgba(0,0,0,0)" : "#333",
      steps: shown.map((t) => ({ label: String(t), method: "animate", args: [[String(t)], still] })),
    }],
  };
  if (title) layout.title = { text: d.title, x: 0, font: { size: 14 } };
  return { data, layout, frames };
}

function createView(host) {
  const gd = document.createElement("div");
  gd.className = "skeleton-player";
  host.appendChild(gd);
  const v = { gd, id: null, token: 0, builds: 0 };
  v.update = async (d) => {
    if (d.id === v.id) return;  // the same clips re-sent by a rerun: keep playing where it is
    v.id = d.id;
    const token = ++v.token;
    const Plotly = await loadPlotly(d.plotly);
    if (token !== v.token) return;  // newer clips arrived while plotly.js loaded
    const t0 = performance.now();
    const font = getComputedStyle(host).fontFamily;
    const fig = figure(d, gd.clientWidth || host.clientWidth || 800, font);
    gd.style.height = `${fig.layout.height}px`;
    Plotly.purge(gd);
    await Plotly.newPlot(gd, fig.data, fig.layout, { displaylogo: false, scrollZoom: false, responsive: true });
    await Plotly.addFrames(gd, fig.frames);
    v.builds += 1;
    gd.dataset.id = d.id;             // read by tests/lab/test_player_browser.py and the benches
    gd.dataset.builds = v.builds;
    gd.dataset.buildMs = (performance.now() - t0).toFixed(1);
  };
  // a page switch detaches or hides the plot before the observer fires: resize only a displayed one
  new ResizeObserver(() => {
    if (v.id && window.Plotly && gd.data && gd.isConnected && gd.offsetParent !== null) window.Plotly.Plots.resize(gd);
  }).observe(host);
  return v;
}

export default function (component) {
  const { data, parentElement } = component;
  if (data.preload) {  // player.preload: fetch and compile plotly.js now, while a job runs
    loadPlotly(data.preload).catch(() => {});
    return;
  }
  if (!parentElement.__player) parentElement.__player = createView(parentElement);
  parentElement.__player.update(data).catch((e) => {
    parentElement.__player.gd.textContent = `The animation could not be drawn: ${e.message}`;
  });
}
