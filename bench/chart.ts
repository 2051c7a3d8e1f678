// The results as a picture: one small bar chart per measurement (median bar, min–max whisker),
// drawn as SVG and converted to PNG with rsvg-convert (Debian librsvg2-bin) or ImageMagick.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import type { Stat } from "./harness.js";

export interface Panel {
  title: string;
  unit: string;
  bars: Array<{ name: string; stat: Stat }>;
}

const COLORS: Record<string, string> = {
  iamdb: "#2b6cb0",
  "iamdb (RSA-2048)": "#63b3ed",
  "iamdb (statement audit)": "#90cdf4",
  pgbouncer: "#dd6b20",
  direct: "#718096",
};

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

function short(n: number): string {
  if (!Number.isFinite(n)) return "–";
  if (n >= 10_000) return `${(n / 1000).toFixed(n >= 100_000 ? 0 : 1)}k`;
  if (n >= 100) return n.toFixed(0);
  return n.toFixed(n >= 10 ? 1 : 2);
}

function panel(p: Panel, x: number, y: number, w: number, h: number): string {
  const top = 34;
  const bottom = 40;
  const plotH = h - top - bottom;
  const max = Math.max(...p.bars.map((b) => (Number.isFinite(b.stat.max) ? b.stat.max : 0)), 1e-9) * 1.15;
  const slot = (w - 20) / Math.max(p.bars.length, 1);
  const bw = Math.min(56, slot * 0.6);
  const out = [
    `<g transform="translate(${x},${y})">`,
    `<rect width="${w}" height="${h}" fill="#fff" stroke="#ddd"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${esc(p.title)}</text>`,
    `<text x="${w - 10}" y="20" font-size="11" text-anchor="end" fill="#555">${esc(p.unit)}</text>`,
    `<line x1="10" x2="${w - 10}" y1="${top + plotH}" y2="${top + plotH}" stroke="#999"/>`,
  ];
  p.bars.forEach((b, i) => {
    const cx = 10 + slot * i + slot / 2;
    const yOf = (v: number) => top + plotH - (plotH * Math.max(v, 0)) / max;
    const med = b.stat.median;
    out.push(
      `<rect x="${cx - bw / 2}" y="${yOf(med)}" width="${bw}" height="${top + plotH - yOf(med)}" fill="${COLORS[b.name] ?? "#999"}"/>`,
      `<line x1="${cx}" x2="${cx}" y1="${yOf(b.stat.min)}" y2="${yOf(b.stat.max)}" stroke="#222"/>`,
      `<line x1="${cx - 6}" x2="${cx + 6}" y1="${yOf(b.stat.max)}" y2="${yOf(b.stat.max)}" stroke="#222"/>`,
      `<line x1="${cx - 6}" x2="${cx + 6}" y1="${yOf(b.stat.min)}" y2="${yOf(b.stat.min)}" stroke="#222"/>`,
      `<text x="${cx}" y="${yOf(b.stat.max) - 5}" font-size="11" text-anchor="middle">${short(med)}</text>`,
      `<text x="${cx}" y="${top + plotH + 15}" font-size="11" text-anchor="middle">${esc(b.name.replace(" (RSA-2048)", " RSA"))}</text>`,
    );
  });
  out.push("</g>");
  return out.join("\n");
}

/** Writes `svgFile` and, when a converter exists, `pngFile`; returns what was written. */
export function writeChart(title: string, panels: Panel[], svgFile: string, pngFile: string): string[] {
  const cols = 3;
  const w = 380;
  const h = 250;
  const rows = Math.ceil(panels.length / cols);
  const width = cols * w + (cols + 1) * 10;
  const height = rows * h + (rows + 1) * 10 + 40;
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="#f7f7f7"/>`,
    `<text x="10" y="28" font-size="16" font-weight="bold">${esc(title)}</text>`,
    ...panels.map((p, i) => panel(p, 10 + (i % cols) * (w + 10), 50 + Math.floor(i / cols) * (h + 10), w, h)),
    "</svg>",
  ].join("\n");
  writeFileSync(svgFile, svg);
  for (const [cmd, args] of [
    ["rsvg-convert", ["-o", pngFile, svgFile]],
    ["convert", [svgFile, pngFile]],
  ] as const) {
    if (spawnSync(cmd, [...args], { stdio: "ignore" }).status === 0) return [svgFile, pngFile];
  }
  console.error("bench: no SVG converter (apt-get install librsvg2-bin); wrote the SVG only");
  return [svgFile];
}
