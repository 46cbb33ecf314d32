// Hand-written SVG charts, rasterised to PNG with resvg (a prebuilt binary shipped in npm).
import * as fs from 'fs';

export interface BarGroup {
  label: string;
  values: Array<number | null>; // one per series
}

const COLORS = ['#8c8c8c', '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728'];
const FONT = 'DejaVu Sans, sans-serif';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function frame(w: number, h: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="${FONT}">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${w / 2}" y="24" font-size="16" text-anchor="middle" font-weight="bold">${esc(title)}</text>`,
    ...body,
    '</svg>',
  ].join('\n');
}

function yAxis(x0: number, y0: number, plotH: number, plotW: number, max: number, label: string): string[] {
  const out: string[] = [];
  for (let i = 0; i <= 5; i++) {
    const v = (max * i) / 5;
    const y = y0 - (plotH * i) / 5;
    out.push(`<line x1="${x0}" y1="${y}" x2="${x0 + plotW}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${x0 - 6}" y="${y + 4}" font-size="11" text-anchor="end">${+v.toFixed(2)}</text>`);
  }
  out.push(`<text x="16" y="${y0 - plotH / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 16 ${y0 - plotH / 2})">${esc(label)}</text>`);
  out.push(`<line x1="${x0}" y1="${y0}" x2="${x0 + plotW}" y2="${y0}" stroke="#333"/>`);
  return out;
}

function legend(x: number, y: number, series: string[]): string[] {
  return series.flatMap((s, i) => [
    `<rect x="${x + i * 150}" y="${y - 10}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`,
    `<text x="${x + i * 150 + 18}" y="${y}" font-size="12">${esc(s)}</text>`,
  ]);
}

export function barChart(title: string, yLabel: string, series: string[], groups: BarGroup[]): string {
  const groupW = Math.max(24 * series.length + 16, 60);
  const x0 = 60;
  const plotW = groupW * groups.length;
  const w = x0 + plotW + 20;
  const h = 420;
  const y0 = h - 110;
  const plotH = y0 - 60;
  const max = niceMax(Math.max(...groups.flatMap((g) => g.values.filter((v): v is number => v !== null))));
  const body = [...yAxis(x0, y0, plotH, plotW, max, yLabel), ...legend(x0, 46, series)];
  const barW = (groupW - 16) / series.length;
  groups.forEach((g, gi) => {
    const gx = x0 + gi * groupW + 8;
    g.values.forEach((v, si) => {
      if (v === null) return;
      const bh = (plotH * v) / max;
      body.push(`<rect x="${gx + si * barW}" y="${y0 - bh}" width="${barW - 2}" height="${bh}" fill="${COLORS[si % COLORS.length]}"/>`);
    });
    const cx = gx + (groupW - 16) / 2;
    body.push(`<text x="${cx}" y="${y0 + 14}" font-size="11" text-anchor="end" transform="rotate(-35 ${cx} ${y0 + 14})">${esc(g.label)}</text>`);
  });
  return frame(w, h, title, body);
}

export interface LineSeries {
  name: string;
  points: Array<number | null>; // one per x category
}

export function lineChart(title: string, yLabel: string, xLabel: string, xs: string[], series: LineSeries[]): string {
  const x0 = 60;
  const plotW = 520;
  const w = x0 + plotW + 40;
  const h = 400;
  const y0 = h - 60;
  const plotH = y0 - 70;
  const max = niceMax(Math.max(...series.flatMap((s) => s.points.filter((v): v is number => v !== null))));
  const body = [...yAxis(x0, y0, plotH, plotW, max, yLabel), ...legend(x0, 46, series.map((s) => s.name))];
  const px = (i: number): number => x0 + 30 + (i * (plotW - 60)) / Math.max(1, xs.length - 1);
  xs.forEach((x, i) => body.push(`<text x="${px(i)}" y="${y0 + 16}" font-size="11" text-anchor="middle">${esc(x)}</text>`));
  body.push(`<text x="${x0 + plotW / 2}" y="${y0 + 40}" font-size="12" text-anchor="middle">${esc(xLabel)}</text>`);
  series.forEach((s, si) => {
    const c = COLORS[si % COLORS.length];
    const pts = s.points.map((v, i) => (v === null ? null : `${px(i)},${y0 - (plotH * v) / max}`)).filter((p): p is string => p !== null);
    body.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${c}" stroke-width="2"/>`);
    for (const p of pts) {
      const [x, y] = p.split(',');
      body.push(`<circle cx="${x}" cy="${y}" r="3.5" fill="${c}"/>`);
    }
  });
  return frame(w, h, title, body);
}

// Writes the SVG and, when resvg loads, the PNG next to it. Returns the files written.
export function writeChart(svg: string, pngPath: string): string[] {
  const svgPath = pngPath.replace(/\.png$/, '.svg');
  fs.writeFileSync(svgPath, svg);
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Resvg } = require('@resvg/resvg-js') as { Resvg: new (svg: string, o?: unknown) => { render(): { asPng(): Buffer } } };
    const png = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, fitTo: { mode: 'zoom', value: 1.5 } }).render().asPng();
    fs.writeFileSync(pngPath, png);
    return [svgPath, pngPath];
  } catch (e) {
    process.stderr.write(`bench: no PNG for ${pngPath} (${(e as Error).message}); the SVG is there\n`);
    return [svgPath];
  }
}
