import type { Health } from "./bindings";

/** How a health is shown: an icon glyph AND a word, never colour alone. */
export interface HealthLook {
  icon: string;
  label: string;
  /** CSS class for colour (a hint only; icon and label carry the meaning). */
  tone: "ok" | "busy" | "warn" | "bad" | "off";
}

const LOOKS: Record<Health, HealthLook> = {
  ok: { icon: "✔", label: "OK", tone: "ok" },
  syncing: { icon: "⟳", label: "Syncing", tone: "busy" },
  warning: { icon: "⚠", label: "Warning", tone: "warn" },
  error: { icon: "✖", label: "Failing", tone: "bad" },
  disabled: { icon: "‖", label: "Disabled", tone: "off" },
  not_configured: { icon: "○", label: "Not tested", tone: "off" },
};

export function healthLook(h: Health): HealthLook {
  return LOOKS[h];
}

/** Sort rank: failing first. */
export function healthRank(h: Health): number {
  return ["error", "disabled", "warning", "not_configured", "syncing", "ok"].indexOf(h);
}

const TRAY: Record<string, HealthLook> = {
  ok: LOOKS.ok,
  syncing: LOOKS.syncing,
  warning: LOOKS.warning,
  error: LOOKS.error,
  paused: { icon: "‖", label: "Paused", tone: "off" },
};

export function trayLook(state: string): HealthLook {
  return TRAY[state] ?? LOOKS.ok;
}

const INFO: HealthLook = { icon: "ℹ", label: "Info", tone: "ok" };
const SEVERITY: Record<string, HealthLook> = {
  error: { icon: "✖", label: "Error", tone: "bad" },
  warning: { icon: "⚠", label: "Warning", tone: "warn" },
  info: { icon: "ℹ", label: "Info", tone: "ok" },
};

export function severityLook(s: string): HealthLook {
  return SEVERITY[s] ?? INFO;
}
