// Sortable tables: click a header to sort the body rows by that column (descending first, again to reverse).
// Cells sort by their data-value (numbers) or text; empty cells always go last. No network, no library.
(function () {
  function key(row, index) {
    const cell = row.cells[index];
    if (!cell) return null;
    const raw = cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent.trim();
    if (raw === "") return null;
    const number = Number(raw);
    return Number.isNaN(number) ? raw.toLowerCase() : number;
  }
  function sortBy(th) {
    const table = th.closest("table");
    const body = table.tBodies[0];
    const index = th.cellIndex;
    const descending = th.getAttribute("aria-sort") !== "descending";
    table.querySelectorAll("thead th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
    const rows = Array.from(body.rows);
    rows.sort(function (a, b) {
      const x = key(a, index), y = key(b, index);
      if (x === null || y === null) return (x === null) - (y === null);
      const order = x < y ? -1 : x > y ? 1 : 0;
      return descending ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  document.querySelectorAll("table.sortable thead th").forEach(function (th) {
    th.addEventListener("click", function () { sortBy(th); });
  });
})();
