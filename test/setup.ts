/**
 * Preloaded by `bun test` (bunfig.toml). Bun's default per-test timeout is 5 s and bunfig has no
 * option for it, so it is set here: 30 s is far more than any unit test needs on an idle machine
 * (they take milliseconds) and leaves room for a slow, busy 2-core CI machine. Tests that start
 * services, build assets or boot QEMU size their own timeouts (per test or per file).
 */
import { setDefaultTimeout } from 'bun:test'

export const DEFAULT_TEST_TIMEOUT_MS = 30_000
setDefaultTimeout(DEFAULT_TEST_TIMEOUT_MS)
