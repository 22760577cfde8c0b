import factory

from clusters.models import Cluster
from console.models import Membership, Role, Team, User
from fleet.models import Cell

DEFAULT_PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.OWNER


class CellFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cell

    name = factory.Sequence(lambda n: f"cell-{n}")
    bootstrap_servers = "127.0.0.1:19092"
    credentials_path = "/nonexistent/credentials.json"
    ca_path = "/nonexistent/ca.pem"


class ClusterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cluster

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"cluster-{n}")
    cell = factory.SubFactory(CellFactory)
    state = Cluster.State.ACTIVE
