// The metrics page (/review). Progressive enhancement only: without it the page works the same.
// Editing a date means "between the dates" (the server would otherwise keep the rolling window
// and ignore them).
(() => {
  const windowChoice = document.getElementById("window");
  if (!windowChoice) return;
  for (const id of ["since", "until"]) {
    const field = document.getElementById(id);
    if (field) field.addEventListener("change", () => { windowChoice.value = "dates"; });
  }
})();
