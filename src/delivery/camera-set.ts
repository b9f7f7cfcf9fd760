/** Which cameras a connection wants: all ("*") minus exclusions, plus explicit ids. Bounded per connection. */
export class CameraSet {
  static readonly MAX_IDS = 1024;
  private all = false;
  private readonly include = new Set<string>();
  private readonly exclude = new Set<string>();

  add(cameras: '*' | string[]): void {
    if (cameras === '*') {
      this.all = true;
      this.exclude.clear();
      this.include.clear();
      return;
    }
    for (const c of cameras) {
      if (this.all) this.exclude.delete(c);
      else this.include.add(c);
    }
  }

  delete(cameras: '*' | string[]): void {
    if (cameras === '*') {
      this.all = false;
      this.include.clear();
      this.exclude.clear();
      return;
    }
    for (const c of cameras) {
      if (this.all) this.exclude.add(c);
      else this.include.delete(c);
    }
  }

  has(cameraId: string): boolean {
    return this.all ? !this.exclude.has(cameraId) : this.include.has(cameraId);
  }

  /** Ids held (included or excluded): what counts against MAX_IDS. */
  get size(): number {
    return this.include.size + this.exclude.size;
  }

  /** Would adding/removing `cameras` exceed MAX_IDS? */
  wouldOverflow(cameras: '*' | string[]): boolean {
    return cameras !== '*' && this.size + cameras.length > CameraSet.MAX_IDS;
  }

  toJSON(): '*' | string[] {
    return this.all ? '*' : [...this.include];
  }

  get isEmpty(): boolean {
    return !this.all && this.include.size === 0;
  }
}
