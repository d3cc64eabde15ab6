/**
 * Without chromium the browser tests fail with the one line that says what
 * to install (the line `npm run setup` prints), never skip.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ensureChromium } from '../../../scripts/chromium.js';
import { startBrowser } from './browser.js';

test('a missing chromium fails the browser tests with what to install', async (t) => {
  process.env['UMBRA_CHROMIUM'] = '/nonexistent/chromium';
  t.after(() => {
    delete process.env['UMBRA_CHROMIUM'];
  });
  const line =
    /no chromium at \/nonexistent\/chromium: the browser tests need it; install Debian's chromium \(as root: apt-get install -y chromium\)/;
  await assert.rejects(startBrowser(t), line);
  // Setup says the same and installs nothing for a binary it was pointed at.
  assert.match(ensureChromium() ?? '', line);
});
