// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// sluiced's status page: polls /api/status and draws every service. Every
// value from the daemon goes into the DOM as text (textContent) or as an
// attribute value (setAttribute), never as markup: service, plan and gate
// names, reasons and audit texts cannot inject HTML or script.
'use strict';

(function () {
	const POLL_MS = 2000;
	const HISTORY_MS = 30 * 60 * 1000;	// the weight sparkline's span
	const SVG = 'http://www.w3.org/2000/svg';

	function el(tag, cls, text) {
		const e = document.createElement(tag);

		if (cls)
			e.className = cls;
		if (text !== undefined && text !== null)
			e.textContent = String(text);
		return e;
	}

	function add(parent, tag, cls, text) {
		return parent.appendChild(el(tag, cls, text));
	}

	function pct(bp) {
		return (bp / 100).toFixed(2) + ' %';
	}

	function num(v) {
		if (v === null || v === undefined || !isFinite(v))
			return '-';
		if (v !== 0 && Math.abs(v) < 0.001)
			return v.toExponential(2);
		return String(Math.round(v * 10000) / 10000);
	}

	function rate(v) {
		return v === null || v === undefined ? '-' : v.toFixed(1);
	}

	function secs(ms) {
		return ms >= 10000 ? Math.round(ms / 1000) + ' s' : (ms / 1000).toFixed(1) + ' s';
	}

	function clock(ms) {
		return new Date(ms).toLocaleTimeString([], { hour12: false });
	}

	// a table: head is a list of column titles, rows lists of cells; a
	// cell is a value, or [value, class]
	function table(parent, cls, head, rows) {
		const t = add(parent, 'table', cls);
		const tr = add(add(t, 'thead'), 'tr');

		for (const h of head)
			add(tr, 'th', null, h);
		const tb = add(t, 'tbody');
		for (const row of rows) {
			const r = add(tb, 'tr');

			for (const c of row) {
				if (Array.isArray(c))
					add(r, 'td', c[1], c[0]);
				else
					add(r, 'td', typeof c === 'number' ? 'n' : null, c);
			}
		}
		return t;
	}

	// the canary's weight in ring 0 as a step line, from its first known
	// change (1 to 30 min ago); pts: its changes, [ms, bp], oldest first
	function sparkline(parent, pts, now, ring) {
		const w = 240, h = 36;
		const span = Math.min(HISTORY_MS, Math.max(60000, now - pts[0][0]));
		const x = t => Math.max(0, (t - (now - span)) / span * w).toFixed(1);
		const y = bp => (h - 2 - bp / 10000 * (h - 4)).toFixed(1);
		const svg = document.createElementNS(SVG, 'svg');
		const xy = [];

		svg.setAttribute('class', 'history');
		svg.setAttribute('width', w);
		svg.setAttribute('height', h);
		svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
		const title = document.createElementNS(SVG, 'title');
		title.textContent = `canary weight in ring ${ring}, last ${Math.round(span / 60000)} min`;
		svg.appendChild(title);
		pts.forEach(([t, bp], i) => {
			if (i)
				xy.push(`${x(t)},${y(pts[i - 1][1])}`);
			xy.push(`${x(t)},${y(bp)}`);
		});
		if (pts.length)
			xy.push(`${w},${y(pts[pts.length - 1][1])}`);
		const line = document.createElementNS(SVG, 'polyline');
		line.setAttribute('points', xy.join(' '));
		svg.appendChild(line);
		parent.appendChild(svg);
	}

	function drawRollout(box, svc, ro, now) {
		const p = add(box, 'p', 'step');
		const steps = ro.steps || 0;
		const step = ro.step >= 0 ? ro.step + 1 : 0;

		p.dataset.step = step;
		add(p, 'span', null, `step ${step}/${steps}`);
		if (ro.phase === 'progressing' && ro.hold_ms > 0) {
			const bar = add(p, 'progress');

			bar.max = ro.hold_ms;
			bar.value = Math.max(0, ro.hold_ms - ro.hold_left_ms);
			add(p, 'span', 'muted', ` hold: ${secs(ro.hold_left_ms)} left of ${secs(ro.hold_ms)}`);
		}
		const plan = add(box, 'p', 'muted');
		plan.textContent = `rollout ${ro.rollout_id} (attempt ${ro.attempt}), plan ${ro.plan_name}`;
		if (ro.status)
			add(box, 'p', 'status', ro.status);
		if (ro.phase === 'paused' && ro.pause_reason)
			add(box, 'p', 'muted', `paused: ${ro.pause_reason}`);
		if (ro.end_reason)
			add(box, 'p', 'muted', `ended: ${ro.end_reason}`);
		if (ro.frozen)
			add(box, 'p', 'error', 'held by the freeze');
		if (ro.kill)
			add(box, 'p', 'error', 'kill switch on: new flows go to the last known good pool');
		if (ro.error)
			add(box, 'p', 'error', ro.error);
		if (ro.gates && ro.gates.length) {
			add(box, 'h3', null, 'gates');
			table(box, 'gates', ['gate', 'metric', 'verdict', 'canary', 'baseline',
					     'threshold', 'samples (canary/baseline)', ''],
			      ro.gates.map(g => [g.name, g.metric, [g.outcome, 'verdict ' + g.outcome],
						 [num(g.canary), 'n'], [num(g.baseline), 'n'],
						 [num(g.threshold), 'n'],
						 `${g.samples_c}/${g.samples_b} (min ${g.min_samples})`,
						 [g.reason, 'muted']]));
		}
	}

	function drawService(svc, doc) {
		const now = doc.now_ms;
		const box = el('section', 'service');
		const ro = svc.rollout;

		box.dataset.service = svc.name;
		const h = add(box, 'h2');
		add(h, 'span', 'name', svc.name);
		const phase = ro ? ro.phase : 'no rollout';
		add(h, 'span', 'state ' + (ro ? ro.phase : 'none'), phase);
		add(h, 'span', 'mode', svc.mode + ' mode');
		if (svc.frozen)
			add(h, 'span', 'error', 'frozen (error budget exhausted)');
		if (ro)
			drawRollout(box, svc, ro, now);

		add(box, 'h3', null, 'weights (canary share of new flows)');
		const want = ro ? new Map(ro.weight.map(w => [w.ring, w.weight])) : new Map();
		table(box, 'weights', ro ? ['ring', 'in the maps', 'wanted by the rollout']
					 : ['ring', 'in the maps'],
		      svc.weights.map(w => ro ? [w.ring, [pct(w.weight), 'n weight'],
						 [pct(want.get(w.ring) || 0), 'n']]
					      : [w.ring, [pct(w.weight), 'n weight']]));
		if (svc.weight_history && svc.weight_history.length)
			sparkline(box, svc.weight_history, now, doc.rings[0] || 'default');

		add(box, 'h3', null, `traffic (rates over the last ${secs(doc.rate_window_ms)} or so)`);
		table(box, 'traffic', ['variant', 'new flows/s', 'error ratio', 'new flows', 'errors'],
		      ['baseline', 'canary'].map(v => {
			      const t = svc.traffic[v];

			      return [v, [rate(t.new_flows_per_s), 'n'], [num(t.error_ratio), 'n'],
				      t.new_flows, t.errors];
		      }));

		if (svc.health && svc.health.length) {
			add(box, 'h3', null, 'backend health');
			table(box, 'health', ['pool', 'backend', 'check', 'state', 'last result'],
			      svc.health.map(b => {
				      const st = b.down ? 'down' : b.flapping ? 'flapping' : 'up';

				      return [b.pool, `${b.address}:${b.port}`, b.check,
					      [st, 'health ' + st], [b.last, 'muted']];
			      }));
		}
		if (svc.events && svc.events.length) {
			add(box, 'h3', null, 'last transitions (gate evaluations: sluice rollout history)');
			const ol = add(box, 'ol', 'events');

			for (const e of svc.events) {
				const li = add(ol, 'li');

				add(li, 'time', null, clock(e.at_ms));
				add(li, 'strong', null, e.type);
				li.appendChild(document.createTextNode(
					` ${e.step ? 'step ' + e.step + ' ' : ''}${e.text || ''}` +
					(e.who ? ` (${e.who})` : '')));
			}
		}
		return box;
	}

	function render(doc) {
		const main = document.getElementById('services');
		const boxes = doc.services.map(s => drawService(s, doc));
		const fr = document.getElementById('freeze');

		if (!boxes.length)
			boxes.push(el('p', 'muted', 'no services configured'));
		main.replaceChildren(...boxes);
		fr.hidden = !doc.freeze.frozen;
		fr.textContent = doc.freeze.frozen ?
			`FROZEN: ${doc.freeze.reason} (by ${doc.freeze.who}): no rollout progresses` : '';
		const up = document.getElementById('updated');
		up.className = '';
		up.textContent = `${doc.services.length} service(s), updated ${clock(doc.now_ms)}`;
	}

	async function poll() {
		let next = POLL_MS;

		try {
			const r = await fetch('/api/status', { cache: 'no-store' });

			if (r.status === 503) {
				// sluiced builds the document once asked, within a second
				document.getElementById('updated').textContent =
					'waiting for sluiced (' + (await r.json()).error + ')';
				next = 500;
			} else if (!r.ok) {
				throw new Error('HTTP ' + r.status);
			} else {
				render(await r.json());
			}
		} catch (e) {
			const up = document.getElementById('updated');

			up.className = 'stale';
			up.textContent = 'cannot reach sluiced (' + e.message + '): showing the last data';
		}
		setTimeout(poll, next);
	}

	poll();
})();
