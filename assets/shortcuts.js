() => {
  // Keyboard-first labeling (F3.12). Keys act unless the focus is in a text field.
  const click = (id) => { const el = document.querySelector(`#${id}`); if (el && !el.disabled) el.click(); };
  document.addEventListener('keydown', (e) => {
    const t = e.target;
    const typing = t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable);
    if (typing || e.altKey || e.metaKey) return;
    if (e.ctrlKey && e.key.toLowerCase() === 'a') { e.preventDefault(); click('select-page'); return; }
    if (e.ctrlKey) return;
    switch (e.key) {
      case 'ArrowRight': case 'n': click('next-page'); break;
      case 'ArrowLeft': case 'p': click('prev-page'); break;
      case 'Escape': click('clear-selection'); break;
      case 'l': { e.preventDefault(); const box = document.querySelector('#label-pick input'); if (box) box.focus(); break; }
      case '?': click('describe-btn'); break;
    }
  });
}
