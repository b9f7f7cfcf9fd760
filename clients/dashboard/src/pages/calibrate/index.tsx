/** The calibration wizard (docs/CALIBRATION.md): one file per step; app.tsx imports this page as ./pages/calibrate. */
import { useState } from 'preact/hooks';
import { useStore } from '../../store';
import { UserStep } from './user-step';
import { CameraStep } from './camera-step';
import { CaptureStep } from './capture-step';
import { TrainStep } from './train-step';

export function CalibratePage() {
  const store = useStore();
  const [cameraId, setCameraId] = useState<string | null>(null);
  const userId = store.selectedUserId;
  const chosenCamera = cameraId && store.cameras.has(cameraId) ? cameraId : store.webcamCameraId;
  return (
    <div class="page">
      <h1>Calibrate: a model that learns you</h1>
      <p class="lead">Four steps, a few minutes: pick a person, show the camera their face, make each expression a few ways, train.</p>
      <div class="steps">
        <UserStep store={store} />
        {userId ? <CameraStep store={store} userId={userId} cameraId={chosenCamera} setCameraId={setCameraId} /> : null}
        {userId ? <CaptureStep store={store} userId={userId} cameraId={chosenCamera} /> : null}
        {userId ? <TrainStep store={store} userId={userId} /> : null}
      </div>
    </div>
  );
}
