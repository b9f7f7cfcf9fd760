import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';

/** OpenAPI document at /api/docs (UI) and /api/docs-json. */
export function setupOpenApi(app: INestApplication, version = '1'): void {
  const config = new DocumentBuilder()
    .setTitle('iExpressionNet')
    .setDescription(
      'REST API. Real-time events are on the WebSocket /ws (see docs/API.md). Send `Authorization: Bearer <token>`; ' +
        'GET routes need the read scope, changes need admin.',
    )
    .setVersion(version)
    .addBearerAuth()
    .build();
  SwaggerModule.setup('api/docs', app, () => SwaggerModule.createDocument(app, config));
}
