/** Token scopes: `read` may watch (subscribe, list, previews); `admin` may also change state. */
export type Scope = 'read' | 'admin';

/** admin may do everything read may. */
export function scopeAllows(granted: Scope, required: Scope): boolean {
  return granted === 'admin' || required === 'read';
}
