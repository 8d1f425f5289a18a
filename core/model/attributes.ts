/**
 * Writing attributes whose keys a sender chooses. `attrs[key] = value` with the key "__proto__"
 * would replace the object's prototype (or, for a primitive value, silently do nothing) instead of
 * adding an attribute, so every receiver sets sender-chosen keys through `setAttribute`.
 */
import type { AttributeValue, Attributes } from './span-batch.ts';

/** Sets `attrs[key] = value`, keeping a key named "__proto__" an ordinary own property. */
export function setAttribute(attrs: Attributes, key: string, value: AttributeValue): void {
  if (key === '__proto__') Object.defineProperty(attrs, key, { value, enumerable: true, writable: true, configurable: true });
  else attrs[key] = value;
}
