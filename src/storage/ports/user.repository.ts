export interface UserRecord {
  id: string;
  name: string;
  /** null = the general model */
  activeVersion: number | null;
  createdAt: number;
}

/**
 * Port (and Nest token) for users; StorageModule binds it to SqliteUserRepository. Deleting a user deletes its samples
 * and model versions too (in SQLite: ON DELETE CASCADE). Synchronous for now: a replicated store will need Promise
 * returns (the next step, docs/ARCHITECTURE.md "Storage ports").
 */
export abstract class UserRepository {
  /** A new user starts on the general model (activeVersion null). Throws when the id exists. */
  abstract insert(u: Omit<UserRecord, 'activeVersion'>): void;
  abstract get(id: string): UserRecord | undefined;
  /** Oldest first (created_at, then id). */
  abstract list(): UserRecord[];
  /** true when the user exists. */
  abstract rename(id: string, name: string): boolean;
  /** true when a user was deleted (with its samples and model versions). */
  abstract delete(id: string): boolean;
}
