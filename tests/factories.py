import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from funnel.models import Company, Contact, Stage, StageTransition


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw-for-tests-1")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(*Group.objects.filter(name__in=extracted))


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"Firma {n} GmbH")
    domain = factory.Sequence(lambda n: f"firma{n}.de")
    industry = "electronics"
    employees = 50


def stage(key: str) -> Stage:
    return Stage.objects.get(key=key)


class ContactFactory(factory.django.DjangoModelFactory):
    """A contact with its first stage transition, as the service would create it."""

    class Meta:
        model = Contact
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    first_name = factory.Sequence(lambda n: f"Vorname{n}")
    last_name = factory.Sequence(lambda n: f"Nachname{n}")
    stage = factory.LazyFunction(lambda: stage("suspect"))

    @factory.post_generation
    def entry(self, create, extracted, **kwargs):
        if create:
            StageTransition.objects.create(
                contact=self, from_stage=None, to_stage=self.stage, at=self.created_at
            )


def contact_with_history(*steps, **fields) -> Contact:
    """A contact whose stage history is exactly ``steps``: (from key | None, to key, datetime), in
    order; it ends in the last step's stage. ``fields`` go to the ContactFactory."""
    contact = ContactFactory(stage=stage(steps[-1][1]), **fields)
    StageTransition.objects.filter(contact=contact).delete()  # the factory's entry
    for from_key, to_key, when in steps:
        StageTransition.objects.create(
            contact=contact, from_stage=stage(from_key) if from_key else None, to_stage=stage(to_key), at=when
        )
    return contact
