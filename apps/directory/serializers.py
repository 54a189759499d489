from rest_framework import serializers


class LocationSerializer(serializers.Serializer):
    slug = serializers.CharField()
    region = serializers.CharField()
    domain = serializers.CharField(help_text="The tenant's host name on the public entry point.")
    cell = serializers.CharField(help_text="The cell that serves the tenant now (informative).")
    api = serializers.CharField(help_text="Base URL of the tenant's API, e.g. http://x/api/v1/")
