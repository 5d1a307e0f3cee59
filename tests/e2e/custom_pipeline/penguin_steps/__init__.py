"""A pipeline author's own components for the penguin data, written only against
``pipelines.sdk``. The e2e tests copy this folder and run it as an author would."""
