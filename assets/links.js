() => {
  // Deep links (pages/links.py): the address bar follows the place the server opened (#lp-link),
  // the selected tab and the sample open in the visible editor; replaceState, so Back still leaves
  // the app. A link to a tab with no job (Teams, Users...) is opened by clicking its tab once.
  const JOB_TABS = ['label', 'review', 'stats', 'participations', 'team-review'];
  const visible = (el) => !!el && el.offsetParent !== null && el.getClientRects().length > 0;
  let landed = false;
  const tabNow = () => {
    const b = document.querySelector('#lp-tabs [role="tab"][aria-selected="true"]');
    const m = b && (b.id || '').match(/^tab-(.+)-button$/);
    return m ? m[1] : null;
  };
  const openSample = () => {
    for (const el of document.querySelectorAll('#tab-label [data-open-sample]')) {
      if (visible(el)) return el.getAttribute('data-open-sample');
    }
    return null;
  };
  const teamPreview = (prefix) => {
    const el = document.querySelector(`#${prefix}-preview .lp-team-preview`);
    return el ? { job: el.getAttribute('data-job'), sample: el.getAttribute('data-sample') } : null;
  };
  const wanted = (server) => {
    const tab = tabNow();
    if (!tab) return null;
    const q = new URLSearchParams();
    let job = server.get('job'), sample = null;
    if (tab === 'participations' || tab === 'team-review') {
      const p = teamPreview(tab === 'participations' ? 'part' : 'rv');
      if (p) { job = p.job; sample = tab === 'participations' ? p.sample : null; }
    } else if (tab === 'label') {
      sample = openSample();
    }
    if (JOB_TABS.includes(tab) && job) q.set('job', job);
    if (tab !== 'jobs' && (q.has('job') || !JOB_TABS.includes(tab))) q.set('tab', tab);
    if (q.has('job') && sample) q.set('sample', sample);
    return q.toString();
  };
  const sync = () => {
    const el = document.querySelector('#lp-link .lp-link');
    if (!el || el.getAttribute('data-landed') !== '1') return;  // not before the landing read the URL
    const server = new URLSearchParams(el.getAttribute('data-query') || '');
    if (!landed) {
      landed = true;
      const tab = server.get('tab');
      if (tab && !JOB_TABS.includes(tab) && tab !== 'jobs') {
        const b = document.querySelector(`#tab-${tab}-button`);
        if (b && visible(b) && tabNow() !== tab) b.click();  // fires the tab's own loader
      }
    }
    const q = wanted(server);
    if (q === null) return;
    const url = new URL(window.location.href);
    const next = q ? `?${q}` : '';
    if (url.search !== next) {
      url.search = next;
      window.history.replaceState(window.history.state, '', url.toString());
    }
  };
  window.setInterval(sync, 400);
}
