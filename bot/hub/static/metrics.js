// The metrics page (/review). Progressive enhancement only: without it the page works the same.
(() => {
  // Editing a date means "between the dates" (the server would otherwise keep the rolling
  // window and ignore them).
  const windowChoice = document.getElementById("window");
  if (windowChoice) {
    for (const id of ["since", "until"]) {
      const field = document.getElementById(id);
      if (field) field.addEventListener("change", () => { windowChoice.value = "dates"; });
    }
  }

  // Choosing the columns: each checkbox shows or hides a group of the table's columns; the
  // choice is remembered in this browser (localStorage), by column group label.
  const choice = document.getElementById("column-choice");
  const table = document.getElementById("metrics");
  if (!choice || !table) return;
  const KEY = "cx-metrics-hidden-columns";
  let hidden = [];
  try { hidden = JSON.parse(localStorage.getItem(KEY) || "[]"); } catch (e) { hidden = []; }
  const boxes = [...choice.querySelectorAll("input[type=checkbox]")];
  const label = (box) => box.parentElement.textContent.trim();
  const apply = (box) => {
    for (const column of box.dataset.columns.split(" ").filter(Boolean)) {
      for (const cell of table.querySelectorAll(`[data-column="${column}"]`)) {
        cell.hidden = !box.checked;
      }
    }
  };
  for (const box of boxes) {
    box.checked = !hidden.includes(label(box));
    apply(box);
    box.addEventListener("change", () => {
      apply(box);
      const off = boxes.filter((b) => !b.checked).map(label);
      try { localStorage.setItem(KEY, JSON.stringify(off)); } catch (e) { /* private mode */ }
    });
  }
  choice.hidden = false;
})();
