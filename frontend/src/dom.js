// Small DOM helpers shared by the page scripts.
export const $ = (id) => document.getElementById(id);
