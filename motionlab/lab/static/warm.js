// Imports Streamlit's chart and table chunks (ui.warm_chart_code) once per tab, after the page has
// drawn and the browser is idle: a later chart finds them compiled. They sit beside the app's own
// index.*.js, whatever the base URL.
export default function (component) {
  const { data } = component;
  if (window.__motionlabWarmed) return;
  window.__motionlabWarmed = true;
  const index = [...document.scripts].map((s) => s.src).find((s) => /\/static\/js\/index\.[^/]+\.js$/.test(s));
  if (!index) return;
  const go = () => data.chunks.forEach((name) => import(new URL(name, index).href).catch(() => {}));
  setTimeout(() => ("requestIdleCallback" in window ? requestIdleCallback(go, { timeout: 3000 }) : go()), 1500);
}
