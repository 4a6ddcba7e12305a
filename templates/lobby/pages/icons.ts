/**
 * The three hands as inline SVG: they look the same on every machine (emoji
 * need an emoji font, and without one they render as empty boxes).
 */
import type { Hand } from "../games/duel.ts"

const svg = (body: string) => `<svg class="hand-icon" viewBox="0 0 48 48" width="44" height="44" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="3" stroke-linecap="round" stroke-linejoin="round">${body}</svg>`

export const HAND_SVG: Record<Hand, string> = {
  // A fist: a rounded block with four knuckles.
  rock: svg('<rect x="10" y="16" width="28" height="22" rx="9"/><path d="M17 16v-3M24 16v-4M31 16v-3M10 26h6"/>'),
  // An open hand: a palm and five fingers.
  paper: svg('<rect x="13" y="22" width="22" height="18" rx="7"/><path d="M16 22V10M21 22V7M26 22V7M31 22V10M35 30l6-6"/>'),
  // Two fingers spread, like scissors.
  scissors: svg('<rect x="14" y="26" width="20" height="14" rx="6"/><path d="M19 26L12 8M27 26L36 8"/>'),
}
