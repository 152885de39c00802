/**
 * Test helpers: a real git repository in a temp folder, and a reader of release packages.
 * Used only by the tests of build/.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { list, extract } from 'tar';
import { ArtifactStore } from '../artifacts/index.js';

/** A git repository with a `main` branch, written to and committed by the test. */
export class TestRepo {
  private constructor(readonly dir: string) {}

  static async create(dir: string): Promise<TestRepo> {
    await mkdir(dir, { recursive: true });
    execFileSync('git', ['init', '--quiet', '-b', 'main', dir]);
    return new TestRepo(dir);
  }

  /** Writes files (a `{ symlink }` value makes a symlink) and commits them; returns the full commit hash. */
  async commit(files: Record<string, string | { symlink: string }>, message = 'change'): Promise<string> {
    for (const [path, content] of Object.entries(files)) {
      const full = join(this.dir, path);
      await mkdir(dirname(full), { recursive: true });
      if (typeof content === 'string') await writeFile(full, content, { mode: path.endsWith('.sh') ? 0o755 : 0o644 });
      else await symlink(content.symlink, full);
    }
    this.git('add', '--all');
    this.git(
      '-c',
      'user.email=t@t',
      '-c',
      'user.name=t',
      '-c',
      'commit.gpgsign=false',
      'commit',
      '--quiet',
      '--allow-empty',
      '-m',
      message,
    );
    return this.git('rev-parse', 'HEAD').trim();
  }

  git(...args: string[]): string {
    return execFileSync('git', args, { cwd: this.dir, encoding: 'utf8' });
  }
}

/** A temp folder with `repo/`, `work/` and `store/`, removed by `close()`. */
export class Sandbox {
  readonly log: string[] = [];
  private constructor(
    readonly root: string,
    readonly repo: TestRepo,
  ) {}

  static async create(): Promise<Sandbox> {
    const root = await mkdtemp(join(tmpdir(), 'noops-build-'));
    return new Sandbox(root, await TestRepo.create(join(root, 'repo')));
  }

  get workDir(): string {
    return join(this.root, 'work');
  }
  get artifacts(): ArtifactStore {
    return new ArtifactStore(join(this.root, 'store'));
  }
  /** The options of runBuild, minus ref. */
  options(job = 'cop.acme_owt.web_pdl.shop_service.api_job.web') {
    return { repo: this.repo.dir, job, workDir: this.workDir, artifacts: this.artifacts, log: (t: string) => void this.log.push(t) };
  }

  /** Lists a stored package's entries, in archive order. */
  async entries(sha256: string): Promise<string[]> {
    const names: string[] = [];
    await list({ file: this.artifacts.path(sha256), onReadEntry: (e) => void names.push(e.path) });
    return names;
  }

  /** Unpacks a stored package into a fresh folder and returns it. */
  async unpack(sha256: string): Promise<string> {
    const dir = await mkdtemp(join(this.root, 'unpacked-'));
    await extract({ file: this.artifacts.path(sha256), cwd: dir });
    return dir;
  }

  async close(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}
