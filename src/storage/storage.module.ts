import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { CONFIG, Config } from '../config';
import { DataVersionWatcher } from './data-version.watcher';
import { SqliteDatabase } from './database';
import { DataDirBlobStore } from './files/data-dir.blob-store';
import { BlobStore } from './ports/blob.store';
import { CameraRepository } from './ports/camera.repository';
import { FaceGallery } from './ports/face-gallery.repository';
import { HistoryRepository } from './ports/history.repository';
import { ModelRepository } from './ports/model.repository';
import { SampleRepository } from './ports/sample.repository';
import { TokenRepository } from './ports/token.repository';
import { UserRepository } from './ports/user.repository';
import { WebhookRepository } from './ports/webhook.repository';
import { LocalWriteAcknowledgement, WriteAcknowledgement } from './ports/write-acknowledgement';
import { NoReplicatedChanges, ReplicatedChanges } from '../contracts/ports/replicated-changes';
import { SqliteCameraRepository } from './sqlite/camera.repository';
import { SqliteFaceGallery } from './sqlite/face-gallery.repository';
import { SqliteHistoryRepository } from './sqlite/history.repository';
import { SqliteModelRepository } from './sqlite/model.repository';
import { SqliteSampleRepository } from './sqlite/sample.repository';
import { SqliteTokenRepository } from './sqlite/token.repository';
import { SqliteUserRepository } from './sqlite/user.repository';
import { SqliteWebhookRepository } from './sqlite/webhook.repository';

/**
 * Everything the server keeps: the ports (abstract classes in ./ports, which are also the Nest tokens) bound to this
 * node's implementations: the SQLite repositories (./sqlite) on the one connection, and the BlobStore on files under
 * DATA_DIR (./files). Services inject the ports only, so a replicated store (several nodes) is a change of bindings
 * here; its ports will need Promise returns first (docs/ARCHITECTURE.md, "Storage ports").
 * DataVersionWatcher tells when another process (the token CLI) committed to the same database file.
 * Clustered (NATS_URL set), AppModule imports ReplicatedStorageModule (./replicated) instead: the same ports, replicated.
 */
@Global()
@Module({
  providers: [
    { provide: SqliteDatabase, inject: [CONFIG], useFactory: (c: Config) => new SqliteDatabase(c.dataDir) },
    { provide: CameraRepository, useClass: SqliteCameraRepository },
    { provide: UserRepository, useClass: SqliteUserRepository },
    { provide: SampleRepository, useClass: SqliteSampleRepository },
    { provide: ModelRepository, useClass: SqliteModelRepository },
    { provide: TokenRepository, useClass: SqliteTokenRepository },
    { provide: WebhookRepository, useClass: SqliteWebhookRepository },
    { provide: FaceGallery, useClass: SqliteFaceGallery },
    { provide: HistoryRepository, useClass: SqliteHistoryRepository },
    { provide: BlobStore, inject: [CONFIG], useFactory: (c: Config) => new DataDirBlobStore(c.dataDir) },
    { provide: DataVersionWatcher, inject: [SqliteDatabase], useFactory: (db: SqliteDatabase) => new DataVersionWatcher(db) },
    { provide: WriteAcknowledgement, useClass: LocalWriteAcknowledgement },
    { provide: ReplicatedChanges, useClass: NoReplicatedChanges },
  ],
  exports: [SqliteDatabase, CameraRepository, UserRepository, SampleRepository, ModelRepository, TokenRepository, HistoryRepository, BlobStore, DataVersionWatcher, FaceGallery, WebhookRepository, WriteAcknowledgement, ReplicatedChanges],
})
export class StorageModule implements OnApplicationShutdown {
  constructor(@Inject(SqliteDatabase) private readonly database: SqliteDatabase) {}
  onApplicationShutdown(): void {
    this.database.close();
  }
}
