// The colour of a ConfirmModal's confirm button, said so that every Grafana the plugin runs on
// draws it. Grafana 12's ConfirmModal accepts `confirmVariant` but draws its button from
// `confirmButtonVariant` alone, red ("destructive") unless that is set: a Retry or a Run now was
// asked for in red. Grafana 13 draws from `confirmVariant` and deprecates the other (still used
// when set), so both are given the one value.
import type { ButtonVariant } from '@grafana/ui';

export function confirmVariantOf(variant: ButtonVariant): {
  confirmVariant: ButtonVariant;
  confirmButtonVariant: ButtonVariant;
} {
  return { confirmVariant: variant, confirmButtonVariant: variant };
}
