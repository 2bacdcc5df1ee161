() => {
  // Keyboard-first labeling (F3.12) on the classification page (pages/labeling/checklist.py): keys act
  // while it is shown, unless the focus is in a text field. A label's own shortcut key is the record
  // list's (assets/record_list.js), which takes its keys before these.
  const shown = (el) => el && el.offsetParent !== null && !el.disabled;
  const click = (name) => { const el = document.querySelector(`#checklist-${name}`); if (shown(el)) el.click(); };
  document.addEventListener('keydown', (e) => {
    const t = e.target;
    const typing = t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable);
    if (typing || e.altKey || e.metaKey || !shown(document.querySelector('#checklist-list'))) return;
    if (e.ctrlKey && e.key.toLowerCase() === 'a') { e.preventDefault(); click('select-page'); return; }
    if (e.ctrlKey) return;
    switch (e.key) {
      case 'ArrowRight': case 'n': click('next-page'); break;
      case 'ArrowLeft': case 'p': click('prev-page'); break;
      case 'Escape': click('clear'); break;
      case 'l': { e.preventDefault(); const box = document.querySelector('#checklist-label-pick input'); if (box) box.focus(); break; }
      case '?': click('describe'); break;
    }
  });
}
