// Small DOM helpers shared by the page scripts.
export const $ = (id) => document.getElementById(id);

// A number for people: grouped digits, "—" when there is none.
export function fmt(value, digits = 0) {
  return value === null || value === undefined ? "—" : Number(value).toLocaleString("en", { maximumFractionDigits: digits });
}
