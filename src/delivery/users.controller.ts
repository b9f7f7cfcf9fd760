import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Res, UploadedFile, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiConsumes, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { z } from 'zod';
import { RequireScope } from '../auth/auth.decorators';
import { CodedError } from '../contracts/errors';
import { LabelSchema } from '../contracts/labels';
import { FaceView, FinetuneJobView, ModelVersionView, UserView } from '../contracts/personalization';
import { FacesService } from '../personalization/faces/faces.service';
import { ModelRegistry } from '../personalization/registry/model.registry';
import { SamplesService, StoredSample } from '../personalization/samples/samples.service';
import { FinetuneJobs, FinetuneStarted } from '../personalization/users/finetune.jobs';
import { UserLifecycle } from '../personalization/users/user.lifecycle';
import { UsersService } from '../personalization/users/users.service';
import { PhotoUploadInterceptor } from './photo-upload.interceptor';
import { ZodValidationPipe } from './zod-validation.pipe';

const idPipe = new ZodValidationPipe(z.string().min(1).max(64), 'id');
const jobIdPipe = new ZodValidationPipe(z.string().min(1).max(64), 'jobId');
const versionPipe = new ZodValidationPipe(z.coerce.number().int().nonnegative().max(1_000_000), 'version');
const faceIdPipe = new ZodValidationPipe(z.string().min(1).max(64), 'faceId');
/** Multipart text fields of a face enrolment: optionally `x`,`y` (image pixels) inside the face to use. */
const FaceFieldsSchema = z
  .object({ x: z.coerce.number().nonnegative().optional(), y: z.coerce.number().nonnegative().optional() })
  .strict()
  .refine((b) => (b.x === undefined) === (b.y === undefined), { message: 'give both x and y, or neither' });
const NameBodySchema = z.object({ name: z.string().trim().min(1).max(100) }).strict();
const FinetuneBodySchema = z.object({ epochs: z.number().int().positive().max(200).optional() }).strict().default({});
/** Multipart text fields: `label`, and optionally `x`,`y` (image pixels) inside the face to use when there are several. */
const SampleFieldsSchema = z
  .object({ label: LabelSchema, x: z.coerce.number().nonnegative().optional(), y: z.coerce.number().nonnegative().optional() })
  .strict()
  .refine((b) => (b.x === undefined) === (b.y === undefined), { message: 'give both x and y, or neither' });

@ApiTags('users')
@ApiBearerAuth()
@Controller('api/users')
export class UsersController {
  constructor(
    @Inject(UsersService) private readonly users: UsersService,
    @Inject(UserLifecycle) private readonly lifecycle: UserLifecycle,
    @Inject(SamplesService) private readonly samples: SamplesService,
    @Inject(FinetuneJobs) private readonly jobs: FinetuneJobs,
    @Inject(ModelRegistry) private readonly registry: ModelRegistry,
    @Inject(FacesService) private readonly faces: FacesService,
  ) {}

  @Post()
  @RequireScope('admin')
  @ApiOperation({ summary: 'Create a user' })
  create(@Body(new ZodValidationPipe(NameBodySchema)) body: { name: string }): UserView {
    return this.users.create(body.name);
  }

  @Get()
  @RequireScope('read')
  list(): UserView[] {
    return this.users.list();
  }

  @Get(':id')
  @RequireScope('read')
  get(@Param('id', idPipe) id: string): UserView {
    return this.users.get(id);
  }

  @Patch(':id')
  @RequireScope('admin')
  rename(@Param('id', idPipe) id: string, @Body(new ZodValidationPipe(NameBodySchema)) body: { name: string }): UserView {
    return this.users.rename(id, body.name);
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireScope('admin')
  @ApiOperation({ summary: 'Delete a user with their samples, models and enrolled faces' })
  async remove(@Param('id', idPipe) id: string): Promise<void> {
    await this.lifecycle.delete(id);
  }

  @Post(':id/faces')
  @HttpCode(201)
  @RequireScope('admin')
  @ApiConsumes('multipart/form-data')
  @ApiOperation({ summary: 'Enrol a face for recognition, no expression sample (multipart: image, optional x,y inside the face to use)' })
  @UseInterceptors(PhotoUploadInterceptor)
  async enrolFace(@Param('id', idPipe) id: string, @UploadedFile() file: Express.Multer.File | undefined, @Body() rawFields: unknown): Promise<FaceView> {
    this.users.require(id);
    const fields = new ZodValidationPipe(FaceFieldsSchema, 'fields').transform({ ...(rawFields as object) });
    if (!file) throw new CodedError('bad_message', 'multipart field `image` (the photo) is missing');
    const hint = fields.x !== undefined && fields.y !== undefined ? { x: fields.x, y: fields.y } : undefined;
    return this.faces.enrolPhoto(id, file.buffer, hint);
  }

  @Get(':id/faces')
  @RequireScope('read')
  @ApiOperation({ summary: "The user's enrolled faces (no embeddings or crops)" })
  listFaces(@Param('id', idPipe) id: string): FaceView[] {
    return this.faces.list(id);
  }

  @Delete(':id/faces/:faceId')
  @HttpCode(204)
  @RequireScope('admin')
  @ApiOperation({ summary: 'Delete one enrolled face (its embedding and crop)' })
  async removeFace(@Param('id', idPipe) id: string, @Param('faceId', faceIdPipe) faceId: string): Promise<void> {
    await this.faces.remove(id, faceId);
  }

  @Post(':id/samples')
  @RequireScope('admin')
  @ApiConsumes('multipart/form-data')
  @ApiOperation({ summary: 'Add a labelled photo (multipart: image = JPEG, PNG, WebP, TIFF, GIF or AVIF, label, optional x,y inside the face to use)' })
  @UseInterceptors(PhotoUploadInterceptor)
  async addSample(
    @Param('id', idPipe) id: string,
    @UploadedFile() file: Express.Multer.File | undefined,
    @Body() rawFields: unknown,
  ): Promise<StoredSample> {
    this.users.require(id);
    const fields = new ZodValidationPipe(SampleFieldsSchema, 'fields').transform({ ...(rawFields as object) });
    if (!file) throw new CodedError('bad_message', 'multipart field `image` (the photo) is missing');
    const hint = fields.x !== undefined && fields.y !== undefined ? { x: fields.x, y: fields.y } : undefined;
    return this.samples.addPhoto(id, fields.label, file.buffer, { hint });
  }

  @Post(':id/finetune')
  @HttpCode(202)
  @RequireScope('admin')
  @ApiOperation({
    summary:
      'Start fine-tuning: 202 {jobId, …}; follow it with GET /api/users/:id/finetune/:jobId (or the WebSocket events). The new model is activated when the job is done.',
  })
  start(@Param('id', idPipe) id: string, @Body(new ZodValidationPipe(FinetuneBodySchema)) body: { epochs?: number }): Promise<FinetuneStarted> {
    return this.jobs.start(id, { epochs: body.epochs });
  }

  @Get(':id/finetune/:jobId')
  @RequireScope('read')
  @ApiOperation({ summary: 'A fine-tune job: state (queued, running, done, failed), progress, result (the new, active version) or error' })
  finetuneJob(@Param('id', idPipe) id: string, @Param('jobId', jobIdPipe) jobId: string): FinetuneJobView {
    const job = this.jobs.job(id, jobId);
    if (!job) throw new CodedError('not_found', `no fine-tune job "${jobId}" for user "${id}" (jobs are kept in memory until the server restarts)`);
    return job;
  }

  @Get(':id/models')
  @RequireScope('read')
  models(@Param('id', idPipe) id: string): ModelVersionView[] {
    return this.registry.list(id);
  }

  @Post(':id/models/:version/activate')
  @HttpCode(200)
  @RequireScope('admin')
  @ApiOperation({ summary: 'Make a version active (0 = the general model)' })
  async activate(@Param('id', idPipe) id: string, @Param('version', versionPipe) version: number): Promise<{ userId: string; version: number }> {
    await this.registry.activate(id, version);
    return { userId: id, version };
  }

  @Get(':id/models/:version/onnx')
  @RequireScope('read')
  @ApiOperation({ summary: 'One ONNX file: the general trunk + this version’s personal head' })
  async onnx(@Param('id', idPipe) id: string, @Param('version', versionPipe) version: number, @Res() res: Response): Promise<void> {
    const bytes = await this.registry.exportOnnx(id, version);
    res
      .status(200)
      .type('application/octet-stream')
      .setHeader('Content-Disposition', `attachment; filename="${id}-v${version}.onnx"`)
      .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }
}
