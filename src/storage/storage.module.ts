import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { CONFIG, Config } from '../config';
import { SqliteDatabase } from './database';

@Global()
@Module({
  providers: [{ provide: SqliteDatabase, inject: [CONFIG], useFactory: (c: Config) => new SqliteDatabase(c.dataDir) }],
  exports: [SqliteDatabase],
})
export class StorageModule implements OnApplicationShutdown {
  constructor(@Inject(SqliteDatabase) private readonly database: SqliteDatabase) {}
  onApplicationShutdown(): void {
    this.database.close();
  }
}
