import { BeforeApplicationShutdown, DynamicModule, Global, Inject, Injectable, Logger, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Subscription } from 'rxjs';
import { CONFIG, Config } from '../../config';
import { ReplicatedChanges } from '../../contracts/ports/replicated-changes';
import { DataVersionWatcher } from '../data-version.watcher';
import { SqliteDatabase } from '../database';
import { DataDirBlobStore } from '../files/data-dir.blob-store';
import { BlobStore } from '../ports/blob.store';
import { CameraRepository } from '../ports/camera.repository';
import { FaceGallery } from '../ports/face-gallery.repository';
import { HistoryRepository } from '../ports/history.repository';
import { ModelRepository } from '../ports/model.repository';
import { SampleRepository } from '../ports/sample.repository';
import { TokenRepository } from '../ports/token.repository';
import { UserRepository } from '../ports/user.repository';
import { WebhookRepository } from '../ports/webhook.repository';
import { WriteAcknowledgement } from '../ports/write-acknowledgement';
import { SqliteCameraRepository } from '../sqlite/camera.repository';
import { SqliteFaceGallery } from '../sqlite/face-gallery.repository';
import { SqliteHistoryRepository } from '../sqlite/history.repository';
import { SqliteModelRepository } from '../sqlite/model.repository';
import { SqliteSampleRepository } from '../sqlite/sample.repository';
import { SqliteTokenRepository } from '../sqlite/token.repository';
import { SqliteUserRepository } from '../sqlite/user.repository';
import { SqliteWebhookRepository } from '../sqlite/webhook.repository';
import { PendingWrites } from './pending-writes';
import { BLOBS_BUCKET, ReplicaObjects, ReplicatedBlobStore } from './replicated.blob-store';
import {
  ReplicatedCameraRepository,
  ReplicatedFaceGallery,
  ReplicatedModelRepository,
  ReplicatedSampleRepository,
  ReplicatedTokenRepository,
  ReplicatedUserRepository,
  ReplicatedWebhookRepository,
} from './replicated.repositories';
import { REPLICATED_TABLES } from './replicated-tables';
import { SqliteReplica } from './sqlite-replica';
import { ReplicationLink, StateReplicator } from './state-replicator';
import { StartupRetry } from './startup-retry';

/** What the replicated store needs from the cluster's NATS link (the cluster's NatsLink has it: AppModule passes it). */
export interface ReplicationSource extends ReplicationLink {
  objectStore(bucket: string): Promise<ReplicaObjects>;
  /** NATS_URL without credentials, for start-up errors. */
  readonly servers?: string;
}

const REPLICATION_SOURCE = Symbol('REPLICATION_SOURCE');
/** The BlobStore owners' folders (sample crops, face crops, head weights). */
const IMPORTED_BLOB_PREFIXES = ['samples', 'faces', 'models'];

/** Replicates the token CLI's commits; drains the writes in flight on shutdown. */
@Injectable()
class ReplicationLifecycle implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  private subscription: Subscription | null = null;
  constructor(
    @Inject(StateReplicator) private readonly replicator: StateReplicator,
    @Inject(PendingWrites) private readonly pending: PendingWrites,
    @Inject(SqliteDatabase) private readonly database: SqliteDatabase,
    @Inject(DataVersionWatcher) private readonly dataVersion: DataVersionWatcher,
  ) {}

  onModuleInit(): void {
    // `npm run token` writes the tokens table from another process: replicate what it committed
    this.subscription = this.dataVersion.changes$.subscribe(() => void this.replicator.adoptExternalChanges());
  }

  /** Before the cluster module closes the NATS link: writes still in flight reach JetStream first. */
  async beforeApplicationShutdown(): Promise<void> {
    this.subscription?.unsubscribe();
    await this.pending.drain();
    this.replicator.stop();
  }

  onApplicationShutdown(): void {
    this.database.close();
  }
}

/**
 * StorageModule's clustered twin (NATS_URL set; docs/CLUSTER.md "Shared state"): the same ports, bound to the SQLite
 * repositories decorated by the replicated ones, the BlobStore to ReplicatedBlobStore on the `iex-blobs` object store,
 * and WriteAcknowledgement to PendingWrites (the edge waits for JetStream before answering). history stays local.
 */
@Global()
@Module({})
export class ReplicatedStorageModule {
  static forRoot(source: ReplicationSource): DynamicModule {
    const logger = new Logger('Replication');
    // One start-up budget for every step that needs JetStream (buckets, object store): retried, logged, then a clear error.
    const startup = new StartupRetry({ servers: source.servers ?? 'NATS_URL', warn: (m) => logger.warn(m) });
    const decorate = <P, S, D>(port: abstract new (...a: never[]) => P, sqlite: new (db: SqliteDatabase) => S, make: (inner: S, r: StateReplicator) => D) => ({
      provide: port,
      inject: [SqliteDatabase, StateReplicator],
      useFactory: (db: SqliteDatabase, r: StateReplicator) => make(new sqlite(db), r),
    });
    return {
      module: ReplicatedStorageModule,
      global: true,
      providers: [
        { provide: REPLICATION_SOURCE, useValue: source },
        { provide: SqliteDatabase, inject: [CONFIG], useFactory: (c: Config) => new SqliteDatabase(c.dataDir) },
        { provide: PendingWrites, useValue: new PendingWrites((e) => logger.error(`a background write did not reach the cluster: ${String(e)}`)) },
        { provide: WriteAcknowledgement, useExisting: PendingWrites },
        { provide: ReplicatedChanges, useExisting: StateReplicator },
        {
          provide: StateReplicator,
          inject: [REPLICATION_SOURCE, SqliteDatabase, PendingWrites],
          // Loaded here, in the factory, so that every provider injecting a repository (they inject this) is built
          // after the node's database holds the cluster's state: ModelRegistry loads the active heads, the face
          // recognizer the gallery, the owners sweep their files, all while being constructed.
          useFactory: async (s: ReplicationSource, db: SqliteDatabase, p: PendingWrites) => {
            const replicator = new StateReplicator(s, new SqliteReplica(db.db, REPLICATED_TABLES), REPLICATED_TABLES, p, logger);
            await replicator.start(startup);
            return replicator;
          },
        },
        decorate(CameraRepository, SqliteCameraRepository, (i, r) => new ReplicatedCameraRepository(i, r)),
        decorate(UserRepository, SqliteUserRepository, (i, r) => new ReplicatedUserRepository(i, r)),
        decorate(SampleRepository, SqliteSampleRepository, (i, r) => new ReplicatedSampleRepository(i, r)),
        decorate(ModelRepository, SqliteModelRepository, (i, r) => new ReplicatedModelRepository(i, r)),
        decorate(TokenRepository, SqliteTokenRepository, (i, r) => new ReplicatedTokenRepository(i, r)),
        decorate(WebhookRepository, SqliteWebhookRepository, (i, r) => new ReplicatedWebhookRepository(i, r)),
        decorate(FaceGallery, SqliteFaceGallery, (i, r) => new ReplicatedFaceGallery(i, r)),
        { provide: HistoryRepository, useClass: SqliteHistoryRepository },
        {
          provide: BlobStore,
          inject: [CONFIG, REPLICATION_SOURCE, StateReplicator],
          useFactory: async (c: Config, s: ReplicationSource, replicator: StateReplicator) => {
            const objects = await startup.run(`opening the object store ${BLOBS_BUCKET}`, () => s.objectStore(BLOBS_BUCKET));
            const blobs = new ReplicatedBlobStore(new DataDirBlobStore(c.dataDir), objects);
            if (replicator.firstJoin) {
              // a single node's DATA_DIR joining: its files become the cluster's, as its rows did (idempotent: retried)
              const n = await startup.run(`importing this node's files into ${BLOBS_BUCKET}`, () => blobs.importLocal(IMPORTED_BLOB_PREFIXES));
              if (n) logger.log(`imported ${n} file(s) of this node's DATA_DIR into the cluster's object store`);
            }
            return blobs;
          },
        },
        { provide: DataVersionWatcher, inject: [SqliteDatabase], useFactory: (db: SqliteDatabase) => new DataVersionWatcher(db) },
        ReplicationLifecycle,
      ],
      exports: [
        SqliteDatabase,
        CameraRepository,
        UserRepository,
        SampleRepository,
        ModelRepository,
        TokenRepository,
        HistoryRepository,
        BlobStore,
        DataVersionWatcher,
        FaceGallery,
        WebhookRepository,
        WriteAcknowledgement,
        ReplicatedChanges,
        StateReplicator,
        PendingWrites,
      ],
    };
  }
}
