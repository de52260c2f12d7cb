import { type Browser, chromium } from 'playwright-core';

/** The system Chromium the portal tests drive; WHARF_CHROMIUM names another. */
export const CHROMIUM = process.env.WHARF_CHROMIUM ?? '/usr/bin/chromium';

/** Headless, without a sandbox (the tests run as root) and without the background traffic of a desktop browser. */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** Starts the system Chromium for a portal test. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
}
