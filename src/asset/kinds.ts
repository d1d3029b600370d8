/** Output kinds this factory's imager builds today; the edge answers 501 for the others early. */
export const BUILT_KINDS: ReadonlySet<string> = new Set(['kernel', 'cmdline', 'initramfs', 'uki', 'iso', 'installer'])
