import type { IpcError } from "./bindings";
import { whatToDo } from "./hints";

/** Raw text of a form, by control name. */
export type Values = Record<string, string>;

/**
 * What to send for each field: on add, empty fields are `null` ("not given":
 * the engine's default); on edit, only fields that changed are sent, and a
 * field emptied by the admin is sent as "" (cleared).
 */
export function changedFields(values: Values, original: Values | null): (name: string) => string | null {
  const out: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(values)) {
    if (original === null) out[k] = v === "" ? null : v;
    else out[k] = v === (original[k] ?? "") ? null : v;
  }
  return (name) => out[name] ?? null;
}

/** Form control name of an engine field ("incoming-host" → "incoming_host"; "line 3: email" → "email"). */
export function controlName(field: string): string {
  const last = field.split(":").pop() ?? field;
  return last.trim().replace(/-/g, "_");
}

/** An error in words. */
export function describeError(e: unknown): string {
  const err = asIpcError(e);
  switch (err.kind) {
    case "invalid":
      return `${err.field}: ${err.message}`;
    case "server":
      return `${err.code}: ${err.message}. ${whatToDo(err.hint, err.action)}`;
    default:
      return err.message;
  }
}

/** Whatever a command rejected with, as an IpcError. */
export function asIpcError(e: unknown): IpcError {
  if (e && typeof e === "object" && "kind" in e && typeof (e as { kind: unknown }).kind === "string") {
    return e as IpcError;
  }
  return { kind: "internal", message: e instanceof Error ? e.message : String(e) };
}
