// The page's language for the browser code (issue 21): messages and display names come from
// the server's catalogue, embedded in every page as JSON (#i18n-catalogue); English is the
// source language, so a message without a translation is shown as written.
const embedded = document.getElementById("i18n-catalogue");
const catalogue = embedded ? JSON.parse(embedded.textContent) : { messages: {}, terms: {} };

export const lang = document.documentElement.lang || "en";

// t("Uploaded slide {id}", { id: 3 }): translated, then the {names} filled in.
export function t(message, values = {}) {
  const text = catalogue.messages[message] || message;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

// Display name of a stored code (slide status, verdict, job state, QC check …).
export function term(kind, code) {
  if (code === null || code === undefined) return "—";
  const names = catalogue.terms[kind] || {};
  return names[code] || String(code).replace(/_/g, " ");
}

export function formatNumber(value, digits = 0) {
  if (value === null || value === undefined) return "—";
  return Number(value).toLocaleString(lang, { maximumFractionDigits: digits });
}

// Sizes in the unit a pathologist reads them in: µm for a cell, mm for a tumour region
// (852,000 µm² is 0.85 mm², and fits the annotation list's column).
export function formatArea(um2) {
  if (um2 === null || um2 === undefined) return "—";
  return um2 >= 1e4 ? `${formatNumber(um2 / 1e6, 2)} mm²` : `${formatNumber(um2)} µm²`;
}

export function formatLength(um) {
  if (um === null || um === undefined) return "—";
  return um >= 1e3 ? `${formatNumber(um / 1e3, 2)} mm` : `${formatNumber(um)} µm`;
}

// A stored UTC time in the reader's language and own time zone.
export function formatTime(iso) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return iso;
  return new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }).format(when);
}
