import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import { ENGINE_EVENT, type Commands, type UiEvent } from "./bindings";
import { asIpcError } from "./forms";

/** Calls a Rust command; rejects with an IpcError. */
export async function call<K extends keyof Commands>(
  cmd: K,
  ...args: Commands[K]["args"] extends Record<string, never> ? [] : [Commands[K]["args"]]
): Promise<Commands[K]["ret"]> {
  try {
    return await invoke<Commands[K]["ret"]>(cmd, (args[0] ?? {}) as Record<string, unknown>);
  } catch (e) {
    throw asIpcError(e);
  }
}

/** Subscribes to the engine's events. */
export function onEngineEvent(cb: (e: UiEvent) => void): Promise<UnlistenFn> {
  return listen<UiEvent>(ENGINE_EVENT, (ev) => cb(ev.payload));
}
