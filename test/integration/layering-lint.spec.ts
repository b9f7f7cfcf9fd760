import { join } from 'node:path';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/paths';

/**
 * Proves that the layering rules in eslint.config.mjs fire (docs/ARCHITECTURE.md, "Layers: what may import what").
 * The configuration is read from disk, as `npm run lint` reads it; the linted files need not exist, only their path
 * matters (a room and a folder depth).
 */
const LAYER_RULES = new Set(['no-restricted-imports', 'no-restricted-syntax']);

let eslint: ESLint;
beforeAll(() => {
  eslint = new ESLint({ cwd: ROOT });
});

async function layerErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${code}\n`, { filePath: join(ROOT, file) });
  return result.messages.filter((m) => m.ruleId !== null && LAYER_RULES.has(m.ruleId)).map((m) => m.message);
}

describe('layering lint', () => {
  const forbidden: [string, string, string, RegExp][] = [
    ['pipeline imports delivery', 'src/pipeline/x.ts', "import { Box } from '../delivery/protocol';", /pipeline may import only contracts, inference, events/],
    ['inference imports pipeline (type only)', 'src/inference/x.ts', "import type { AnalyzedFace } from '../pipeline/pipeline.types';", /inference may import only contracts/],
    ['inference re-exports pipeline', 'src/inference/pool/x.ts', "export type { AnalyzedFace } from '../../pipeline/pipeline.types';", /inference may import only contracts/],
    ['a peer imports a peer (pipeline → ingest)', 'src/pipeline/x.ts', "import type { Frame } from '../ingest/frame';", /pipeline may import only/],
    ['personalization imports ingest from a subfolder', 'src/personalization/identity/x.ts', "import { CameraService } from '../../ingest/camera.service';", /personalization may import only contracts, storage, inference, events/],
    ['personalization imports auth', 'src/personalization/x.ts', "import { RequireScope } from '../auth/auth.decorators';", /personalization may import only/],
    ['storage imports auth', 'src/storage/x.ts', "import { x } from '../auth/token.store';", /storage may import only contracts/],
    ['auth imports delivery', 'src/auth/x.ts', "import type { Scope } from '../delivery/protocol';", /auth may import only contracts, storage/],
    ['events imports pipeline', 'src/events/x.ts', "import { PipelineService } from '../pipeline/pipeline.service';", /events may import only contracts/],
    ['ingest imports delivery (a side-effect import)', 'src/ingest/x.ts', "import '../delivery/delivery.module';", /ingest may import only contracts, storage, inference, events/],
    ['a room imports app.module', 'src/delivery/x.ts', "import { AppModule } from '../app.module';", /only the bootstrap/],
    ['personalization imports ONNX Runtime', 'src/personalization/x.ts', "import * as ort from 'onnxruntime-node';", /ONNX Runtime lives in src\/inference/],
    ['pipeline imports ONNX Runtime dynamically', 'src/pipeline/x.ts', "export const load = () => import('onnxruntime-node');", /ONNX Runtime lives in src\/inference/],
    ['main imports ONNX Runtime', 'src/main.ts', "import { Tensor } from 'onnxruntime-node';", /ONNX Runtime lives in src\/inference/],
    ['personalization imports ModuleRef', 'src/personalization/x.ts', "import { ModuleRef } from '@nestjs/core';", /no service look-ups/],
    ['inference imports ModuleRef under another name', 'src/inference/x.ts', "import { ModuleRef as Refs } from '@nestjs/core';", /no service look-ups/],
    ['a test imports ModuleRef', 'test/integration/x.spec.ts', "import { ModuleRef } from '@nestjs/core';", /no service look-ups/],
    ['contracts import config', 'src/contracts/x.ts', "import { CONFIG } from '../config';", /contracts are browser-safe/],
    ['contracts import a node module', 'src/contracts/x.ts', "import { createHash } from 'node:crypto';", /contracts are browser-safe/],
    ['contracts import Nest', 'src/contracts/ports/x.ts', "import { Injectable } from '@nestjs/common';", /contracts are browser-safe/],
    ['contracts import another room', 'src/contracts/ports/x.ts', "import type { Frame } from '../../ingest/frame';", /contracts may import only other contracts files/],
    ['a unit spec beside the code imports upward', 'src/pipeline/x.spec.ts', "import { Box } from '../delivery/protocol';", /pipeline may import only/],
    ['the SDK imports a server room', 'clients/sdk/src/x.ts', "import type { CameraService } from '../../../src/ingest/camera.service';", /the SDK imports only src\/contracts/],
    ['the dashboard imports the server directly', 'clients/dashboard/src/pages/x.tsx', "import { LABEL_NAMES } from '../../../../src/contracts';", /through the SDK/],
    [
      'personalization creates an ONNX Runtime session',
      'src/personalization/x.ts',
      "declare const ort: { InferenceSession: { create(p: string): Promise<unknown> } };\nexport const s = ort.InferenceSession.create('m.onnx');",
      /only through OrtSessionFactory/,
    ],
    [
      'an inference file other than ort.sessions.ts creates a session',
      'src/inference/heads/x.ts',
      "import { InferenceSession } from 'onnxruntime-node';\nexport const s = InferenceSession.create('m.onnx');",
      /only through OrtSessionFactory/,
    ],
  ];
  it.each(forbidden)('fires when %s', async (_name, file, code, message) => {
    const errors = await layerErrors(file, code);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
  });

  const allowed: [string, string, string][] = [
    ['pipeline imports contracts', 'src/pipeline/x.ts', "import type { Box } from '../contracts/geometry';"],
    ['pipeline imports inference and events', 'src/pipeline/x.ts', "import { ExpressionTrunk } from '../inference/expression.classifier';\nimport { EventBus } from '../events/event-bus';"],
    ['personalization imports inference from a subfolder', 'src/personalization/finetune/x.ts', "import { HeadTrainStep } from '../../inference/heads/head-train-step';"],
    ['a room imports its own files across subfolders', 'src/personalization/identity/x.ts', "import { UsersService } from '../users/users.service';\nimport { X } from './y';"],
    ['a room imports config', 'src/storage/x.ts', "import { CONFIG, Config } from '../config';"],
    ['ingest imports the image formats from inference', 'src/ingest/x.ts', "import { FRAME_FORMATS } from '../inference/image-format';"],
    ['delivery imports every other room', 'src/delivery/x.ts', "import { PipelineService } from '../pipeline/pipeline.service';\nimport { TokenStore } from '../auth/token.store';\nimport { UsersService } from '../personalization/users/users.service';"],
    ['app.module wires the rooms', 'src/app.module.ts', "import { DeliveryModule } from './delivery/delivery.module';\nimport { StorageModule } from './storage/storage.module';"],
    ['contracts import contracts files named like rooms, and zod', 'src/contracts/ports/x.ts', "import { z } from 'zod';\nimport type { EventMap } from '../events';\nimport type { UserView } from '../personalization';"],
    ['inference imports ONNX Runtime', 'src/inference/embedding/x.ts', "import * as ort from 'onnxruntime-node';"],
    ['ort.sessions.ts creates sessions', 'src/inference/ort.sessions.ts', "import * as ort from 'onnxruntime-node';\nexport const s = ort.InferenceSession.create('m.onnx');"],
    ['a room imports the node events module', 'src/storage/x.ts', "import { EventEmitter } from 'events';"],
    ['the SDK imports the contracts barrel', 'clients/sdk/src/x.ts', "export { LABEL_NAMES } from '../../../src/contracts';"],
    ['the dashboard imports the SDK', 'clients/dashboard/src/pages/x.tsx', "import { IExpressionClient } from '../../../sdk/src';"],
    ['a test uses ONNX Runtime as an oracle', 'test/integration/x.spec.ts', "import * as ort from 'onnxruntime-node';\nexport const s = ort.InferenceSession.create('m.onnx');"],
  ];
  it.each(allowed)('is clean when %s', async (_name, file, code) => {
    expect(await layerErrors(file, code)).toEqual([]);
  });
});
