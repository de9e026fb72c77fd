// The history's « Résultat » filter (no DOM): every way a visio can end is offered, « Sans vidéo »
// is every ending but the video, and each choice has its French and English label. Run by
// `node --test tests/js/`.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';

import { OUTCOME_FILTERS } from '../../integration/web/static/console/js/history.js';

/** How a visio can end (`integration/sessions/outcome.py`: the final outcomes). */
const FINAL_KINDS = [
  'video_established',
  'network_weak',
  'photos_only',
  'no_path',
  'camera_refused',
  'camera_unavailable',
  'browser_unsupported',
  'camera_allowed',
  'link_opened',
  'waiting',
  'not_delivered',
  'link_not_opened',
];

const kinds = (value) => value.split(',');

test('every way a visio ends can be chosen on its own or in a group', () => {
  const offered = new Set(OUTCOME_FILTERS.flatMap((choice) => kinds(choice.value)));
  assert.deepEqual([...offered].sort(), [...FINAL_KINDS].sort());
  assert.equal(new Set(OUTCOME_FILTERS.map((choice) => choice.value)).size, OUTCOME_FILTERS.length);
});

test('« Sans vidéo » is every ending but the video', () => {
  const noVideo = OUTCOME_FILTERS.find((choice) => choice.key === 'history.outcome.no_video');
  assert.ok(noVideo);
  assert.deepEqual(kinds(noVideo.value).sort(), FINAL_KINDS.filter((k) => k !== 'video_established').sort());
});

test('each choice has its label in French and in English', async () => {
  for (const lang of ['fr', 'en']) {
    const url = new URL(`../../integration/locales/${lang}/console.json`, import.meta.url);
    const catalogue = JSON.parse(await readFile(url, 'utf8'));
    for (const key of ['history.filter.outcome', 'history.outcome.all', ...OUTCOME_FILTERS.map((c) => c.key)]) {
      assert.ok(catalogue[key], `${lang}: ${key}`);
    }
  }
});
