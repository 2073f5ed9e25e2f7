// The fast path of the config loader for large YAML files. The `yaml` package builds a full
// document (every node with its source range) before it gives the value: for a generated
// table of 10 000 services x 10 servers (5 MB) that is 6-8 s of CPU here, js-yaml's direct
// construction 0.8 s. Both read YAML 1.2 with the core schema, so they give the same value;
// js-yaml is only trusted to say yes. Whatever it refuses (a syntax error, a repeated key,
// an alias, a tag it does not know, several documents) goes to the `yaml` package, whose
// messages name the line, and which alone applies the alias bound (maxAliasCount).
import { CORE_SCHEMA, load } from 'js-yaml';

/** Texts at least this long (characters, 256 Ki) take the fast path; smaller ones are cheap for `yaml`. */
export const LARGE_YAML_CHARS = 256 * 1024;

/**
 * The value of `text` when it is at least LARGE_YAML_CHARS long and js-yaml reads it;
 * undefined otherwise (then the `yaml` package reads it). Never throws.
 */
export function parseLargeYaml(text: string): { value: unknown } | undefined {
  return text.length < LARGE_YAML_CHARS ? undefined : loadFastYaml(text);
}

/**
 * `text` read by js-yaml (core schema, no alias allowed: an alias of a collection would be
 * shared rather than copied, and the bound on expansion is `yaml`'s), or undefined when it
 * refuses the text. Never throws. Exported for the tests that compare it with `yaml`.
 */
export function loadFastYaml(text: string): { value: unknown } | undefined {
  try {
    return { value: load(text, { schema: CORE_SCHEMA, maxAliases: 0 }) };
  } catch {
    return undefined;
  }
}
