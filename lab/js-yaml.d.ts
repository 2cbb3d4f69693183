// js-yaml ships no types: the one function the workflow runner uses.
declare module 'js-yaml' {
  export function load(text: string, options?: { filename?: string }): unknown;
}
