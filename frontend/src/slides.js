// The slide list and other pages without a script of their own: only what every page shares.
import "./page.js";

// Tests (and impatient users) wait for this before using the page.
document.documentElement.dataset.ready = "true";
