// The printable post-mortem's Print button (CSP forbids inline handlers).
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("print-postmortem");
  if (button) button.addEventListener("click", () => window.print());
});
