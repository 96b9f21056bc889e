// The denoising scrubber (st.components.v2): a filmstrip of x_t and x̂0 at the kept step under the
// slider, drawn on a canvas from states sent once (motionlab/lab/scrubber.py). Scrubbing and playing
// never talk to the server; the settled step goes back with setStateValue("step") on release.
// Streamlit calls this function again whenever the data is re-sent, so the view lives on the
// parent element and is only fed new data.

const CELL = 150;      // px, largest filmstrip cell
const LABEL_W = 96;    // px, row labels at the left
const HEAD_H = 18;     // px, frame numbers above the cells
const PLAY_MS = 3000;  // a denoising replay takes this long, or one kept step per frame if longer
const COMMIT_MS = 250; // keyboard moves settle after this pause

function decode(b64) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Uint16Array(bytes.buffer);
}

function levelText(d, idx) {
  const s = d.steps[idx];
  const what = idx === 0 ? " (pure noise)" : s === 0 ? " (final sample)" : "";
  return `step ${s} of ${d.timesteps}${what} · ${idx + 1}/${d.steps.length} kept`;
}

function createView(root) {
  const el = document.createElement("div");
  el.className = "scrubber";
  el.innerHTML = `<div class="bar"><button type="button" class="play">▶ Play denoising</button>
    <input type="range" class="slider" min="0" value="0" step="1" aria-label="denoising step">
    <span class="level"></span></div><canvas></canvas>`;
  root.appendChild(el);
  const v = {
    el, d: null, q: null, idx: 0, pending: null, raf: 0, draws: 0, playing: 0, commitTimer: 0,
    setState: null, committed: null,
    play: el.querySelector(".play"), slider: el.querySelector(".slider"),
    level: el.querySelector(".level"), canvas: el.querySelector("canvas"),
  };

  v.show = (idx) => {  // draw on the next animation frame; moves within a frame coalesce
    v.pending = idx;
    if (!v.raf) v.raf = requestAnimationFrame(() => { v.raf = 0; v.draw(v.pending); });
  };
  v.commit = () => {
    clearTimeout(v.commitTimer);
    const step = v.d.steps[Number(v.slider.value)];  // the value, not the last drawn index: a draw may be pending
    if (step !== v.committed) { v.committed = step; v.setState("step", step); }
  };
  v.stop = () => {
    if (!v.playing) return;
    cancelAnimationFrame(v.playing);
    v.playing = 0;
    v.play.textContent = "▶ Play denoising";
  };

  v.slider.addEventListener("input", () => { v.stop(); v.show(Number(v.slider.value)); });
  // a pointer drag fires "change" once, on release; each arrow key fires it, so keys settle after a pause
  v.slider.addEventListener("change", () => { clearTimeout(v.commitTimer); v.commitTimer = setTimeout(v.commit, COMMIT_MS); });
  v.slider.addEventListener("pointerup", () => setTimeout(v.commit, 0));
  v.play.addEventListener("click", () => {
    if (v.playing) { v.stop(); v.commit(); return; }
    const n = v.d.steps.length;
    const from = v.idx >= n - 1 ? 0 : v.idx;
    const dur = Math.max(PLAY_MS, ((n - from) * 1000) / 60);
    const t0 = performance.now();
    v.play.textContent = "❚❚ Pause";
    const tick = (now) => {
      const idx = Math.min(n - 1, from + Math.floor(((now - t0) / dur) * (n - from)));
      v.slider.value = idx;
      v.draw(idx);
      if (idx >= n - 1) { v.stop(); v.commit(); } else v.playing = requestAnimationFrame(tick);
    };
    v.playing = requestAnimationFrame(tick);
  });
  new ResizeObserver(() => v.d && v.draw(v.idx)).observe(el);

  v.update = (d, setState) => {
    v.setState = setState;
    if (v.d && v.d.id === d.id) { v.d = d; return; }  // same states re-sent by a rerun: keep the slider
    v.stop();
    v.d = d;
    v.q = decode(d.points);
    v.idx = d.start;
    v.committed = d.steps[d.start];
    v.slider.max = d.steps.length - 1;
    v.slider.value = d.start;
    v.draw(d.start);
  };

  v.draw = (idx) => {
    const d = v.d, q = v.q, c = v.canvas;
    v.idx = idx;
    const M = d.frames.length, J = d.joints, R = d.rows.length;
    const cell = Math.max(40, Math.min(CELL, Math.floor((el.clientWidth - LABEL_W) / M) || CELL));
    const w = LABEL_W + M * cell, h = HEAD_H + R * cell, dpr = window.devicePixelRatio || 1;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr); c.height = Math.round(h * dpr);
      c.style.width = `${w}px`; c.style.height = `${h}px`;
    }
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = "white";
    g.fillRect(0, 0, w, h);
    g.fillStyle = "#555";
    g.font = "11px sans-serif";
    g.textBaseline = "middle";
    g.textAlign = "center";
    d.frames.forEach((f, m) => g.fillText(`frame ${f}`, LABEL_W + (m + 0.5) * cell, HEAD_H / 2));
    const inner = cell - 8, s = inner / 65534;
    for (let r = 0; r < R; r++) {
      const y0 = HEAD_H + r * cell, side = d.boxes[(idx * R + r) * 3 + 2];
      g.textAlign = "left";
      g.fillStyle = "#333";
      g.font = "12px sans-serif";
      g.fillText(d.rows[r].split(" ")[0], 4, y0 + cell / 2 - 8);
      g.fillStyle = "#777";
      g.font = "10px sans-serif";
      g.fillText(`box ${Math.round(side)} px`, 4, y0 + cell / 2 + 8);
      for (let m = 0; m < M; m++) {
        const x0 = LABEL_W + m * cell;
        g.strokeStyle = "#ddd";
        g.lineWidth = 1;
        g.strokeRect(x0 + 2.5, y0 + 2.5, cell - 5, cell - 5);
        const base = (((idx * R + r) * M + m) * J) * 2;
        const X = (j) => x0 + 4 + q[base + 2 * j] * s, Y = (j) => y0 + 4 + q[base + 2 * j + 1] * s;
        const ok = (j) => q[base + 2 * j] !== 65535 && q[base + 2 * j + 1] !== 65535;
        g.lineWidth = 2;
        for (const [a, b, k] of d.bones) {
          if (!ok(a) || !ok(b)) continue;
          g.strokeStyle = d.colors[k];
          g.beginPath(); g.moveTo(X(a), Y(a)); g.lineTo(X(b), Y(b)); g.stroke();
        }
        g.fillStyle = "#333";
        for (let j = 0; j < J; j++) if (ok(j)) g.fillRect(X(j) - 1.5, Y(j) - 1.5, 3, 3);
      }
    }
    v.level.textContent = levelText(d, idx);
    v.draws += 1;
    el.dataset.draws = v.draws;        // read by tests/lab/test_browser.py and bench/slider_fps.py
    el.dataset.drawnStep = d.steps[idx];
  };
  return v;
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  const host = parentElement;
  if (!host.__scrubber) host.__scrubber = createView(host);
  host.__scrubber.update(data, setStateValue);
}
