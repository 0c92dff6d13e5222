"""sps demo (Gradio Blocks; also the Hugging Face Space entry point).

    python app.py          # http://127.0.0.1:7860 ; GRADIO_SERVER_NAME / GRADIO_SERVER_PORT to change
    SPS_WEIGHTS=path/to/pipeline_folder python app.py   # default: <repo>/weights

Runs offline: analytics and telemetry are off and the theme uses system fonts only.
"""
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from sps.app_ui import Backend, build_demo, launch  # noqa: E402

demo = build_demo(Backend())  # module-level `demo` for `gradio app.py` reload mode and Spaces

if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    demo.sps_backend.load()
    launch(demo)
