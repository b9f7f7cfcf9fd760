import { DynamicModule, Module } from '@nestjs/common';
import { Config } from './config';
import { ConfigModule } from './config.module';
import { StorageModule } from './storage/storage.module';

@Module({})
export class AppModule {
  static forRoot(config: Config): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config), StorageModule],
    };
  }
}
