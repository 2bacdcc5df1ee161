() => {
  // A notice that opens below the fold (an edit conflict beside Save: pages/labeling/versions.py,
  // .lp-conflict) is scrolled into view once when it appears: at 1280x720 the Save button sits at
  // the bottom of the window and the notice under it would go unseen.
  const shown = new WeakSet();
  const visible = (el) => el.offsetParent !== null && el.getClientRects().length > 0;
  const check = () => {
    for (const el of document.querySelectorAll('.lp-conflict')) {
      if (!visible(el)) { shown.delete(el); continue; }
      if (shown.has(el)) continue;
      shown.add(el);
      const r = el.getBoundingClientRect();
      if (r.top < 0 || r.bottom > window.innerHeight) el.scrollIntoView({ block: 'nearest' });
    }
  };
  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; check(); });
  }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['class', 'style'] });
}
